import { RateLimiter } from "@effect/experimental"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Logger, Metric, TestClock } from "effect"
import { rateLimitsLocal, rateLimitsOutages } from "../../src/observability/metrics.js"
import { type LimiterStore, makeMemoryStore } from "../../src/rate-limits/memory-store.js"
import { type LimitRequest, makeRateLimits, shareOf } from "../../src/rate-limits/rate-limits.js"

/**
 * A shared store the test can take away: it answers from memory while "up" and fails at
 * once while "down", as the Redis client does when refused or past its deadline (the real
 * client is tested in redis-store.test.ts).
 */
const takeAwayStore = Effect.gen(function*() {
  const memory = yield* makeMemoryStore()
  let state: "up" | "down" = "up"
  const gate = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.suspend((): Effect.Effect<A, E | RateLimiter.RateLimitStoreError> =>
      state === "up" ? effect : Effect.fail(new RateLimiter.RateLimitStoreError({ message: "connect ECONNREFUSED" }))
    )
  const store: LimiterStore = {
    fixedWindow: (request) => gate(memory.store.fixedWindow(request)),
    tokenBucket: (request) => gate(memory.store.tokenBucket(request))
  }
  const lostHandlers: Array<(reason: string) => void> = []
  return {
    shared: { store, ping: gate(Effect.void), onConnectionLost: (handler: (reason: string) => void) => void lostHandlers.push(handler) },
    set: (next: typeof state) => Effect.sync(() => (state = next)),
    /** The client saw its connection close. */
    lose: (reason: string) => Effect.sync(() => lostHandlers.forEach((handler) => handler(reason)))
  }
})

const perUser = (key: string, limit = 5): LimitRequest => ({
  key,
  limit,
  window: "1 minute",
  algorithm: "fixed-window",
  onExceeded: "fail"
})

const captureLogs = (lines: Array<string>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`))
  )

const outages = Effect.map(Metric.value(rateLimitsOutages), (state) => state.count)
const degraded = Effect.map(Metric.value(rateLimitsLocal), (state) => state.value)

/** Lets forked fibers (the probe) run after the clock moved. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("shared or local limits", () => {
  it.scoped("a failed call switches to local limits once per outage; the probe switches back when Redis answers", () => {
    const lines: Array<string> = []
    return Effect.gen(function*() {
      const redis = yield* takeAwayStore
      const limits = yield* makeRateLimits({ shared: redis.shared, liveRunners: Effect.succeed(2) })
      const outagesBefore = yield* outages
      yield* limits.consume(perUser("flood:1"))
      expect(yield* limits.status).toEqual({ _tag: "Shared" })

      yield* redis.set("down")
      for (let i = 0; i < 5; i++) yield* limits.consume(perUser(`flood:${i}`))
      expect(yield* limits.status).toMatchObject({ _tag: "Local", runners: 2, reason: expect.stringContaining("ECONNREFUSED") })
      expect(yield* degraded).toBe(1)
      expect((yield* outages) - outagesBefore).toBe(1)
      expect(lines.filter((line) => line.startsWith("WARN"))).toHaveLength(1)
      expect(lines[0]).toContain("at 1/2 of the global limits")

      // The probe fails while Redis is away, and nothing is said again.
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect((yield* limits.status)._tag).toBe("Local")

      yield* redis.set("up")
      yield* TestClock.adjust("2 seconds")
      yield* settle
      expect(yield* limits.status).toEqual({ _tag: "Shared" })
      expect(yield* degraded).toBe(0)
      expect(lines.filter((line) => line.startsWith("INFO"))).toEqual([
        expect.stringContaining("Redis answers again after 12s")
      ])

      // A second outage is a new one.
      yield* redis.set("down")
      yield* limits.consume(perUser("flood:9"))
      expect((yield* outages) - outagesBefore).toBe(2)
      expect(lines.filter((line) => line.startsWith("WARN"))).toHaveLength(2)
    }).pipe(Effect.provide(captureLogs(lines)))
  })

  it.scoped("a lost connection switches to local limits without waiting for a call", () =>
    Effect.gen(function*() {
      const redis = yield* takeAwayStore
      const limits = yield* makeRateLimits({ shared: redis.shared, liveRunners: Effect.succeed(1) })
      yield* redis.set("down")
      yield* redis.lose("connect ECONNREFUSED 127.0.0.1:6379")
      yield* settle
      expect(yield* limits.status).toMatchObject({ _tag: "Local", reason: "connect ECONNREFUSED 127.0.0.1:6379" })
      // Each failed reconnect says so again; the outage is still one.
      const outagesBefore = yield* outages
      yield* redis.lose("connect ECONNREFUSED 127.0.0.1:6379")
      yield* settle
      expect((yield* outages) - outagesBefore).toBe(0)
    }))

  it.scoped("while local, a limit of all runners together is divided among the live runners; a per-user limit is not", () =>
    Effect.gen(function*() {
      const redis = yield* takeAwayStore
      const limits = yield* makeRateLimits({ shared: redis.shared, liveRunners: Effect.succeed(3) })
      yield* redis.set("down")
      const admitted = (request: LimitRequest, times: number) =>
        Effect.gen(function*() {
          let count = 0
          for (let i = 0; i < times; i++) {
            if (Exit.isSuccess(yield* Effect.exit(limits.consume(request)))) count++
          }
          return count
        })
      expect(yield* admitted(perUser("flood:1", 6), 10)).toBe(6)
      expect(yield* admitted({ ...perUser("kie:createTask", 6), global: true }, 10)).toBe(2)

      // Telegram's global bucket: a burst of 3, then one every 100 ms, for all runners.
      const bucket: LimitRequest = {
        key: "telegram:global",
        limit: 3,
        window: "300 millis",
        algorithm: "token-bucket",
        onExceeded: "delay",
        global: true
      }
      const delays: Array<number> = []
      for (let i = 0; i < 4; i++) delays.push(Duration.toMillis((yield* limits.consume(bucket)).delay))
      // This runner's third: a burst of 1, then one every 300 ms.
      expect(delays).toEqual([0, 300, 600, 900])
    }))

  it("a runner's share keeps the sum of all runners' rates and bursts within the limit", () => {
    const telegram: LimitRequest = { key: "g", limit: 3, window: "115 millis", algorithm: "token-bucket", onExceeded: "delay", global: true }
    for (const runners of [1, 2, 3, 5]) {
      const share = shareOf(telegram, runners)
      const rate = share.limit / Duration.toMillis(Duration.decode(share.window))
      expect(rate * runners).toBeCloseTo(3 / 115)
      expect(share.limit * runners).toBeLessThanOrEqual(Math.max(3, runners))
    }
    expect(shareOf({ ...telegram, global: false }, 3)).toEqual({ ...telegram, global: false })
  })
})
