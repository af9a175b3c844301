/**
 * The account-wide limit on createTask. KIE admits 20 new generations per 10 seconds per
 * account and drops (429) the rest; the guarantee must hold for all runners together and
 * in every 10-second span, not only in aligned windows. Callers over the limit wait, in
 * the order they asked, instead of failing.
 *
 * Why a token bucket, and why smaller than the limit: a fixed window of 20 admits 20 at
 * the end of one window and 20 more at the start of the next, i.e. 40 within a second.
 * A token bucket holding `burst` tokens and refilling `sustained` per window admits at
 * most burst + sustained in any span of one window. The store only refills in whole
 * steps and a waiting caller's delay is counted from its own request, not from the last
 * refill, so a caller may start up to one step after its token appeared; that can pull
 * one extra request into a span. Hence burst + sustained = limit - 1: for 20, a burst of
 * 2 and 17 per 10 s (one every ~0.59 s). What is left: clock skew between runners (the
 * Redis store refills by the caller's clock) and network jitter on the way to KIE; both
 * are milliseconds against a 0.59 s step. While Redis fails, each runner paces itself at its
 * share of the limit (src/rate-limits/rate-limits.ts).
 */
import { Duration, Effect } from "effect"
import { AppConfig } from "../config/index.js"
import { RateLimits } from "../rate-limits/rate-limits.js"

export const kieWindow = Duration.seconds(10)

export interface BucketSize {
  readonly burst: number
  readonly sustained: number
  /** Time between two refilled tokens. */
  readonly step: Duration.Duration
}

/** The bucket for "at most `limit` per window", see the module comment. */
export const bucketFor = (limit: number, window: Duration.Duration = kieWindow): BucketSize => {
  const budget = Math.max(2, limit) - 1
  const burst = Math.max(1, Math.min(Math.floor(limit / 10), budget - 1))
  const sustained = Math.max(1, budget - burst)
  return { burst, sustained, step: Duration.unsafeDivide(window, sustained) }
}

export const makeKieRateLimiter = (options: { readonly limit: number; readonly key?: string }) =>
  Effect.gen(function*() {
    const limits = yield* RateLimits
    const bucket = bucketFor(options.limit)
    const key = options.key ?? "kie:createTask"

    /**
     * Takes a place in the queue and returns how long to wait for it. The store's answer
     * orders callers: each one's debt is one step deeper than the previous one's.
     */
    const reserve: Effect.Effect<Duration.Duration> = limits.consume({
      key,
      algorithm: "token-bucket",
      onExceeded: "delay",
      limit: bucket.burst,
      // The library refills `limit` tokens per `window`: one token per step.
      window: Duration.times(bucket.step, bucket.burst),
      global: true
    }).pipe(
      Effect.map((result) => result.delay),
      // "delay" is only refused for more tokens than the burst, never asked for here.
      Effect.orElseSucceed(() => bucket.step)
    )

    const acquire: Effect.Effect<void> = Effect.flatMap(reserve, (delay) =>
      Duration.isZero(delay) ? Effect.void : Effect.sleep(delay))

    return { limit: options.limit, bucket, reserve, acquire } as const
  })

export class KieRateLimiter extends Effect.Service<KieRateLimiter>()("app/KieRateLimiter", {
  effect: Effect.flatMap(AppConfig, (config) => makeKieRateLimiter({ limit: config.kie.rateLimit })),
  dependencies: [RateLimits.Default]
}) {}
