/** Who administers the bot and how much one user may ask of it. */
import { Config } from "effect"
import { commaSeparated, integerIn, literal, parsed } from "./parsers.js"

/** Telegram ids allowed admin commands and alerts. */
export const adminIds = parsed(
  "ADMIN_IDS",
  "",
  "a comma-separated list of numeric Telegram user ids",
  (raw) => {
    const ids = commaSeparated(raw)
    return ids.every((id) => /^\d+$/.test(id)) ? ids.map(Number) : undefined
  }
)

export const botLimits = Config.all({
  /** Jobs one user may have unfinished at once. */
  maxJobsInFlight: integerIn("MAX_JOBS_IN_FLIGHT", 1, 100, 2),
  /** Messages and button presses one user may send per minute. */
  floodLimitPerMinute: integerIn("FLOOD_LIMIT_PER_MINUTE", 1, 1000, 20),
  /** Long-polling timeout of getUpdates, in seconds. */
  pollTimeoutSeconds: integerIn("TELEGRAM_POLL_TIMEOUT", 0, 50, 25),
  /** A photo without a caption: a menu of one-tap motion presets, or the default prompt at once. */
  barePhoto: literal("BARE_PHOTO", ["presets", "default-prompt"], "presets")
})

export type BotLimits = Config.Config.Success<typeof botLimits>
