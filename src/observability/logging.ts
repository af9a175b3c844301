/**
 * The runner's logger: one JSON object per line in production (NODE_ENV=production), a
 * readable text otherwise, at the level of LOG_LEVEL (default info). Annotations
 * (`Effect.annotateLogs({ jobId, userId })`) become JSON fields.
 *
 * Each event is rendered to one text first, and that text passes through the process's
 * redactor (src/observability/redaction.ts) before it is written: messages, annotations,
 * causes and their stack traces alike. It is the only logger of the process (it replaces
 * the whole set, the pretty logger that NodeRuntime.runMain adds included), so no event is
 * printed twice or around the redactor.
 */
import { Cause, Config, Effect, FiberId, FiberRef, HashSet, Inspectable, Layer, List, Logger, LogLevel, LogSpan } from "effect"
import { inspect } from "node:util"
import { AppConfig, type AppSettings } from "../config/index.js"
import { logLevel, nodeEnv } from "../config/observability.js"
import { guardProcessOutput, ProcessEventsToLog } from "./process-output.js"
import { ProcessRedactor, type Redactor, redactJsonStrings, redactorOf, SecretRedactor } from "./redaction.js"

const twoDigits = (n: number) => n.toString().padStart(2, "0")
const clockTime = (date: Date) =>
  `${twoDigits(date.getHours())}:${twoDigits(date.getMinutes())}:${twoDigits(date.getSeconds())}.${
    date.getMilliseconds().toString().padStart(3, "0")
  }`

const shown = (value: unknown) =>
  typeof value === "string" ? value : inspect(Inspectable.redact(value), { breakLength: 120 })

const indented = (text: string) => text.split("\n").map((line) => `  ${line}`).join("\n")

/** `[12:00:00.000] INFO (#12) span=3ms: message`, then the cause, further values and annotations, indented. */
export const prettyText = Logger.make<unknown, string>(
  ({ annotations, cause, date, fiberId, logLevel, message, spans }) => {
    const parts = Array.isArray(message) ? [...message as ReadonlyArray<unknown>] : [message]
    let head = `[${clockTime(date)}] ${logLevel.label} (${FiberId.threadName(fiberId)})`
    for (const span of List.toArray(spans)) head += ` ${LogSpan.render(date.getTime())(span)}`
    head += ":"
    if (typeof parts[0] === "string") head += ` ${parts.shift()}`
    const details: Array<string> = []
    if (!Cause.isEmpty(cause)) details.push(Cause.pretty(cause, { renderErrorCause: true }))
    for (const part of parts) details.push(shown(part))
    for (const [key, value] of annotations) details.push(`${key}: ${shown(value)}`)
    return [head, ...details.map(indented)].join("\n")
  }
)

/** The line logger of a format, writing each redacted text with one console.log call. */
export const lineLogger = (format: "json" | "pretty", redactor: Redactor): Logger.Logger<unknown, void> =>
  Logger.withConsoleLog(
    format === "json"
      ? Logger.map(Logger.jsonLogger, (line) => redactJsonStrings(redactor, line))
      : Logger.map(prettyText, redactor.redact)
  )

export const loggingLayer = (
  settings: Pick<AppSettings, "nodeEnv" | "logLevel">,
  redactor: Redactor = redactorOf([])
) =>
  Layer.merge(
    Layer.fiberRefLocallyScopedWith(
      FiberRef.currentLoggers,
      () => HashSet.make(lineLogger(settings.nodeEnv === "production" ? "json" : "pretty", redactor))
    ),
    Logger.minimumLogLevel(settings.logLevel)
  )

/**
 * The logger must stand when the settings are wrong, since AppConfig's error is reported
 * through it: a bad NODE_ENV or LOG_LEVEL falls back to its default here (AppConfig then
 * fails naming the variable).
 */
const loggerSettings = Config.all({
  nodeEnv: nodeEnv.pipe(Config.orElse(() => Config.succeed("development" as const))),
  logLevel: logLevel.pipe(Config.orElse(() => Config.succeed(LogLevel.Info)))
}).pipe(Effect.orElseSucceed(() => ({ nodeEnv: "development" as const, logLevel: LogLevel.Info })))

/**
 * The process's logger, its redactor (ProcessRedactor, which learns the secrets through
 * `withSecretsRedacted`), the guard on stdout and stderr, and Node's warnings routed into
 * the logger.
 */
export const LoggingLive: Layer.Layer<ProcessRedactor> = Layer.unwrapEffect(
  Effect.map(loggerSettings, (settings) => {
    const redactor = new SecretRedactor()
    return ProcessEventsToLog.pipe(
      Layer.provideMerge(Layer.mergeAll(
        Layer.succeed(ProcessRedactor, redactor),
        loggingLayer(settings, redactor),
        guardProcessOutput(redactor, settings.nodeEnv === "production")
      ))
    )
  })
)

/** `config`, with its secrets handed to the process's redactor before anything built on them can print. */
export const withSecretsRedacted = <E, R>(config: Layer.Layer<AppConfig, E, R>) =>
  Layer.effect(
    AppConfig,
    Effect.gen(function*() {
      const settings = yield* AppConfig
      const redactor = yield* ProcessRedactor
      redactor.cover(settings)
      return settings
    })
  ).pipe(Layer.provide(config))
