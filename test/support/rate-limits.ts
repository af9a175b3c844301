/**
 * The product's limits for tests that build limiters themselves: in-process only, or on a
 * Redis with the test's own key prefix (each call is one more client, as one more runner).
 */
import { Effect, Layer } from "effect"
import { Redis } from "ioredis"
import type { MemoryStoreOptions } from "../../src/rate-limits/memory-store.js"
import { makeRateLimits, RateLimits, storeDeadline } from "../../src/rate-limits/rate-limits.js"
import { makeRedisLimiterStore, redisOptionsFromUrl } from "../../src/rate-limits/redis-store.js"

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

export const inProcessLimits = (local: MemoryStoreOptions = {}) =>
  Layer.scoped(RateLimits, Effect.map(makeRateLimits({ shared: undefined, liveRunners: Effect.succeed(1), local }), RateLimits.make))

export const redisLimits = (options: {
  readonly url?: string
  readonly prefix: string
  /** Live runners counted when Redis fails (default 1). */
  readonly runners?: number
}) =>
  Layer.scoped(
    RateLimits,
    Effect.gen(function*() {
      const shared = yield* makeRedisLimiterStore({
        redis: redisOptionsFromUrl(options.url ?? TEST_REDIS_URL),
        prefix: options.prefix,
        deadline: storeDeadline
      })
      return RateLimits.make(yield* makeRateLimits({ shared, liveRunners: Effect.succeed(options.runners ?? 1) }))
    })
  )

/** A client on TEST_REDIS_URL for the test's own reads; deletes the prefix's keys when done. */
export const redisUnderPrefix = (prefix: string, url: string = TEST_REDIS_URL) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(redisOptionsFromUrl(url))),
    (redis) =>
      Effect.promise(async () => {
        const keys = await redis.keys(`${prefix}*`)
        if (keys.length > 0) await redis.del(...keys)
        await redis.quit()
      })
  )
