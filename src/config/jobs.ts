/** How long jobs may take and how much they hold in memory. */
import { Config } from "effect"
import { durationIn, integerIn, optionalDurationIn } from "./parsers.js"

/** Durations in milliseconds. */
export const jobTimings = Config.all({
  /** Overrides every model's generation deadline; unset: the model's own. */
  taskDeadlineMs: optionalDurationIn("KIE_TASK_DEADLINE", 5_000, 3_600_000, "a duration from 5 s to 60 m, like 40s or 20m"),
  /**
   * The first wait before a transient KIE failure is retried, doubling up to 12 times it
   * (10 s: one of KIE's 10-second rate windows; shorter only for tests or an account whose
   * limit KIE has raised).
   */
  kieRetryBaseMs: durationIn("KIE_RETRY_BASE", 1_000, 60_000, "10s")
})

export type JobTimings = Config.Config.Success<typeof jobTimings>

/** Photos and videos this runner holds in memory at once (src/jobs/transfer-permits.ts). */
export const maxConcurrentTransfers = integerIn("MAX_CONCURRENT_TRANSFERS", 1, 256, 8)
