/**
 * The account-wide limit on createTask. KIE admits 20 new generations per 10 seconds per
 * account and drops (429) the rest; the guarantee must hold for all runners together and
 * in every 10-second span, hence a token bucket sized by src/rate-limits/token-bucket.ts
 * (for 20: a burst of 2 and 17 per 10 s, one every ~0.59 s). Callers over the limit wait,
 * in the order they asked, instead of failing. What is left: clock skew between runners
 * (the Redis store refills by the caller's clock) and network jitter on the way to KIE;
 * both are milliseconds against a 0.59 s step. While Redis fails, each runner paces itself
 * at its share of the limit (src/rate-limits/rate-limits.ts).
 */
import { Duration, Effect } from "effect"
import { AppConfig } from "../config/index.js"
import { RateLimits } from "../rate-limits/rate-limits.js"
import { bucketFor } from "../rate-limits/token-bucket.js"

export const kieWindow = Duration.seconds(10)

export const makeKieRateLimiter = (options: { readonly limit: number; readonly key?: string }) =>
  Effect.gen(function*() {
    const limits = yield* RateLimits
    const bucket = bucketFor(options.limit, kieWindow)
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

    return { limit: options.limit, bucket, reserve } as const
  })

export class KieRateLimiter extends Effect.Service<KieRateLimiter>()("app/KieRateLimiter", {
  effect: Effect.flatMap(AppConfig, (config) => makeKieRateLimiter({ limit: config.kie.rateLimit })),
  dependencies: [RateLimits.Default]
}) {}
