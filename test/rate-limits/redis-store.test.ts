import { RateLimiter } from "@effect/experimental"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Logger, LogLevel } from "effect"
import { vi } from "vitest"
import { storeDeadline } from "../../src/rate-limits/rate-limits.js"
import { makeRedisLimiterStore, redisOptionsFromUrl } from "../../src/rate-limits/redis-store.js"
import { realPause } from "../support/job-harness.js"
import { redisUnderPrefix, TEST_REDIS_URL } from "../support/rate-limits.js"
import { privateRedis } from "../support/redis-server.js"

const limiterOn = (url: string, prefix: string) =>
  Effect.gen(function*() {
    const redis = yield* makeRedisLimiterStore({ redis: redisOptionsFromUrl(url), prefix, deadline: storeDeadline })
    const limiter = yield* RateLimiter.make.pipe(Effect.provideService(RateLimiter.RateLimiterStore, redis.store))
    return { ...redis, limiter }
  })

const uniquePrefix = (name: string) => `test:${name}:${process.pid}:${Date.now()}:`

/** A chat's bucket as the Telegram limits use it: a burst of 3, then one per second. */
const chatBucket = (key: string, onExceeded: "delay" | "fail" = "delay") => ({
  key,
  limit: 3,
  window: Duration.seconds(3),
  algorithm: "token-bucket" as const,
  onExceeded
})

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: Date.now() - start }
  })

describe("the Redis store", () => {
  it("reads REDIS_URL into ioredis options", () => {
    expect(redisOptionsFromUrl("rediss://user:p%40ss@cache.internal:6380/2")).toEqual({
      host: "cache.internal",
      port: 6380,
      username: "user",
      password: "p@ss",
      db: 2,
      tls: {}
    })
    expect(redisOptionsFromUrl("redis://127.0.0.1")).toEqual({ host: "127.0.0.1", port: 6379 })
  })

  // Redis expires keys on its own clock: these tests run on real time.
  it.scopedLive("every key expires: a bucket's keys when it is full again plus a step, a window's when it ends", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix("ttl")
      const admin = yield* redisUnderPrefix(prefix)
      const { limiter } = yield* limiterOn(TEST_REDIS_URL, prefix)

      yield* limiter.consume(chatBucket("telegram:chat:1"))
      const ttlAfterOne = yield* Effect.promise(() => Promise.all([
        admin.pttl(`${prefix}telegram:chat:1`),
        admin.pttl(`${prefix}telegram:chat:1:refill`)
      ]))
      // 2 of 3 tokens left: full again in 1 s, kept one step longer.
      for (const ttl of ttlAfterOne) expect(ttl).toBeGreaterThan(1_500)
      for (const ttl of ttlAfterOne) expect(ttl).toBeLessThanOrEqual(2_000)

      // Overdrawn by 2 (two callers wait): full again in 5 s.
      for (let i = 0; i < 4; i++) yield* limiter.consume(chatBucket("telegram:chat:1"))
      const overdrawn = yield* Effect.promise(() => admin.pttl(`${prefix}telegram:chat:1`))
      expect(overdrawn).toBeGreaterThan(5_500)
      expect(overdrawn).toBeLessThanOrEqual(6_000)

      yield* limiter.consume({ key: "flood:1", limit: 20, window: "1 minute", algorithm: "fixed-window", onExceeded: "fail" })
      const flood = yield* Effect.promise(() => admin.pttl(`${prefix}flood:1`))
      expect(flood).toBeGreaterThan(0)
      expect(flood).toBeLessThanOrEqual(60_000)

      // A fast bucket is gone from Redis soon after it is full again.
      yield* limiter.consume({ key: "fast", limit: 2, window: "40 millis", algorithm: "token-bucket", onExceeded: "delay" })
      expect(yield* Effect.promise(() => admin.exists(`${prefix}fast`, `${prefix}fast:refill`))).toBe(2)
      yield* realPause(150)
      expect(yield* Effect.promise(() => admin.exists(`${prefix}fast`, `${prefix}fast:refill`))).toBe(0)
    }))

  it.scopedLive("a bucket that expired admits no more than one that was kept", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix("expired")
      yield* redisUnderPrefix(prefix)
      const { limiter } = yield* limiterOn(TEST_REDIS_URL, prefix)
      // A token every 300 ms: five calls take far less even on a loaded machine, so a refill
      // between them cannot pass for an expired bucket admitting too much.
      const bucket = { key: "b", limit: 2, window: Duration.millis(600), algorithm: "token-bucket" as const, onExceeded: "fail" as const }
      const admitted = (times: number) =>
        Effect.gen(function*() {
          let count = 0
          for (let i = 0; i < times; i++) if (Exit.isSuccess(yield* Effect.exit(limiter.consume(bucket)))) count++
          return count
        })
      expect(yield* admitted(5)).toBe(2)
      yield* realPause(1_200)
      // Full again (and expired): the burst, and not more.
      expect(yield* admitted(5)).toBe(2)
    }))

  it.scopedLive("a killed Redis fails a call at once, a stopped one within the deadline; calls succeed again when it is back", () =>
    Effect.gen(function*() {
      const server = yield* privateRedis
      const lines: Array<string> = []
      const consoleError = vi.spyOn(console, "error")
      const { limiter, ping } = yield* limiterOn(server.url, "rl:").pipe(
        Effect.provide(Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ message }) => lines.push(Array.isArray(message) ? message.join(" ") : String(message)))
        )),
        Effect.provide(Logger.minimumLogLevel(LogLevel.All))
      )
      const call = limiter.consume(chatBucket("telegram:chat:7"))
      expect(Exit.isSuccess((yield* timed(call)).exit)).toBe(true)

      yield* server.kill
      const refused = yield* timed(call)
      expect(Exit.isFailure(refused.exit)).toBe(true)
      expect(refused.ms).toBeLessThan(200)
      // The client's reconnect attempts fail; each failure goes to the Effect logger.
      for (let i = 0; i < 30 && !lines.some((line) => line.includes("Redis connection error")); i++) yield* realPause(100)
      expect(lines.some((line) => line.includes("ECONNREFUSED"))).toBe(true)

      yield* server.restart
      let back = false
      for (let i = 0; i < 50 && !back; i++) {
        back = Exit.isSuccess(yield* Effect.exit(ping))
        if (!back) yield* realPause(100)
      }
      expect(back).toBe(true)
      expect(Exit.isSuccess((yield* timed(call)).exit)).toBe(true)

      yield* server.pause
      const hung = yield* timed(call)
      yield* server.resume
      expect(Exit.isFailure(hung.exit)).toBe(true)
      expect(hung.ms).toBeGreaterThanOrEqual(Duration.toMillis(storeDeadline) - 50)
      expect(hung.ms).toBeLessThan(Duration.toMillis(storeDeadline) + 1_000)

      // ioredis's own "[ioredis] Unhandled error event" lines never reach the console.
      expect(consoleError.mock.calls.filter((args) => String(args[0]).includes("ioredis"))).toEqual([])
      consoleError.mockRestore()
    }), 30_000)
})
