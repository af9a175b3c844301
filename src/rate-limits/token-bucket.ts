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
 * limit - 1: for 20, a burst of 2 and 17 per window.
 *
 * A burst of one would leave more to the sustained rate (28 a second for Telegram's 30
 * instead of 26), but the burst is also what a late caller catches up with: a turn taken
 * late on a busy event loop loses every token the bucket could not hold meanwhile. Tried,
 * Telegram's line sent fewer first messages in time with a burst of one, and with five
 * (BENCHMARKS.md, "a burst of one token").
 */
import { Duration } from "effect"

export interface BucketSize {
  readonly burst: number
  readonly sustained: number
  /** Time between two refilled tokens. */
  readonly step: Duration.Duration
}

export const bucketFor = (limit: number, window: Duration.Duration): BucketSize => {
  const budget = Math.max(2, limit) - 1
  const burst = Math.max(1, Math.min(Math.floor(limit / 10), budget - 1))
  const sustained = Math.max(1, budget - burst)
  return { burst, sustained, step: Duration.unsafeDivide(window, sustained) }
}
