/** How long processed cluster messages and job events are kept (src/storage/retention.ts). */
import { Config, Option } from "effect"
import { day, hour, longDurationIn, parsed, parseLongDuration, within } from "./parsers.js"

/** Durations in milliseconds. Money rows (credit_ledger, payments, jobs) are never pruned. */
export const retentionSettings = Config.all({
  // A processed message younger than an hour may still be read back by its sender (the
  // reply of a persisted request), so the age has a floor.
  messageAgeMs: longDurationIn("RETENTION_AGE", hour, 3650 * day, "3 days", "1 hour to 3650 days"),
  /** job_events of finished jobs older than this are deleted; none: kept forever. */
  jobEventsAgeMs: parsed(
    "JOB_EVENTS_RETENTION",
    "90 days",
    `a duration from 1 to 3650 days, like "90 days", or forever`,
    (raw) => {
      if (raw.trim().toLowerCase() === "forever") return Option.none<number>()
      const ms = within(parseLongDuration(raw), day, 3650 * day)
      return ms === undefined ? undefined : Option.some(ms)
    }
  ),
  /** How often one runner prunes. */
  intervalMs: longDurationIn("RETENTION_INTERVAL", 60_000, 7 * day, "1 hour", "1 minute to 7 days")
})

export type RetentionSettings = Config.Config.Success<typeof retentionSettings>
