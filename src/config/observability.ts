/**
 * NODE_ENV, LOG_LEVEL and DASHBOARD_TOKEN. The logger reads these on its own
 * (src/observability/logging.ts), because it is provided around everything else, AppConfig
 * included; AppSettings holds the same values.
 */
import { LogLevel } from "effect"
import { literal, optionalRedacted, parsed } from "./parsers.js"

export const nodeEnv = literal("NODE_ENV", ["development", "production", "test"], "development")

const levels = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warning: "Warning",
  error: "Error",
  fatal: "Fatal",
  none: "None"
} as const satisfies Record<string, LogLevel.Literal>

/** Minimum level of log lines; default info. */
export const logLevel = parsed("LOG_LEVEL", "info", `one of ${Object.keys(levels).join(", ")}`, (raw) => {
  const key = raw.trim().toLowerCase()
  return key in levels ? LogLevel.fromLiteral(levels[key as keyof typeof levels]) : undefined
})

/** Admins' token for GET /dashboard; unset: the dashboard answers 404. */
export const dashboardToken = optionalRedacted(
  "DASHBOARD_TOKEN",
  (token) => token.length < 16 ? "at least 16 characters" : undefined
)
