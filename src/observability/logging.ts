/**
 * The runner's logger: one JSON object per line in production (NODE_ENV=production), the
 * readable pretty logger otherwise, at the level of LOG_LEVEL (default info). Annotations
 * (`Effect.annotateLogs({ jobId, userId })`) become JSON fields; Redacted values print as
 * <redacted>, so secrets never reach a log line.
 */
import { Effect, Layer, Logger } from "effect"
import { type ObservabilitySettings, observabilitySettings } from "./settings.js"

export const loggingLayer = (settings: Pick<ObservabilitySettings, "nodeEnv" | "logLevel">) =>
  Layer.merge(
    settings.nodeEnv === "production" ? Logger.json : Logger.pretty,
    Logger.minimumLogLevel(settings.logLevel)
  )

export const LoggingLive = Layer.unwrapEffect(Effect.map(observabilitySettings, loggingLayer))
