/**
 * NODE_ENV, LOG_LEVEL, DASHBOARD_TOKEN and EFFECT_SCHEDULER. The logger reads the first two
 * on its own (src/observability/logging.ts), and the composition root the scheduler
 * (src/main.ts), because both are provided around everything else, AppConfig included;
 * AppSettings holds the logger's values.
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

/**
 * How the runner's fibers share the event loop: `time-sliced` (src/runtime/time-sliced-scheduler.ts)
 * gives I/O and timers a turn every 10 ms of fiber work; `default` is Effect's own scheduler,
 * kept as a way back.
 */
export const effectScheduler = literal("EFFECT_SCHEDULER", ["time-sliced", "default"], "time-sliced")
