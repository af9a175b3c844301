/**
 * Sizing a token bucket for "at most `limit` per window, in every span of one window",
 * not only in aligned windows; KIE's createTask limit and Telegram's global send limit
 * both use it.
 *
 * A fixed window of 20 admits 20 at the end of one window and 20 more at the start of the
 * next, i.e. 40 within a second. A bucket holding `burst` tokens and refilling `sustained`
 * per window admits at most burst + sustained in any span of one window. The store only
 * refills in whole steps and a waiting caller's delay is counted from its own request,
 * not from the last refill, so a caller may start up to one step after its token
 * appeared; that can pull one extra request into a span. Hence burst + sustained =
 * limit - 1.
 *
 * The burst is one token. Each token of burst is a request fewer per window for good, and
 * all it buys is that the second caller after a quiet spell goes a step sooner (33 ms for
 * Telegram's 30 a second). Under a burst of photos only the sustained rate counts: with a
 * burst of limit/10, Telegram's line ran at 26 messages a second, not 28 (BENCHMARKS.md).
 * For 30 per second: 1 and 28; for KIE's 20 per 10 s: 1 and 18.
 */
import { Duration } from "effect"

export interface BucketSize {
  readonly burst: number
  readonly sustained: number
  /** Time between two refilled tokens. */
  readonly step: Duration.Duration
}

export const bucketFor = (limit: number, window: Duration.Duration): BucketSize => {
  const burst = 1
  const sustained = Math.max(1, limit - 1 - burst)
  return { burst, sustained, step: Duration.unsafeDivide(window, sustained) }
}
