import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer, Random, Ref, TestClock } from "effect"
import { makeKieRateLimiter } from "../../src/kie/rate-limiter.js"
import { inProcessLimits, redisLimits, redisUnderPrefix } from "../support/rate-limits.js"

const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
const windowMillis = 10_000

/** The most admissions in any span [t, t + 10 s); the busiest span starts at an admission. */
const busiestSpan = (times: ReadonlyArray<number>) => {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + windowMillis) j++
    best = Math.max(best, j - i)
  }
  return best
}

// Each limiter gets its own store, i.e. its own Redis connection, as two runners would.
const redisLimiter = (prefix: string, limit: number) =>
  Effect.flatMap(Layer.build(redisLimits({ url: redisUrl, prefix })), (context) =>
    makeKieRateLimiter({ limit }).pipe(Effect.provide(context)))

const memoryLimiter = (limit: number) =>
  makeKieRateLimiter({ limit }).pipe(Effect.provide(inProcessLimits()))

describe("KIE rate limiter", () => {
  it.scoped("two limiters on the same Redis never admit more than the limit in any 10-second span", () =>
    Effect.gen(function*() {
      const prefix = `test:kie-rl:${Date.now()}:${Math.random().toString(36).slice(2)}:`
      const admin = yield* redisUnderPrefix(prefix, redisUrl)
      const limit = 20
      const runnerA = yield* redisLimiter(prefix, limit)
      const runnerB = yield* redisLimiter(prefix, limit)

      // Bursty, seeded traffic on both runners for two virtual minutes, far above the limit.
      const admitted: Array<number> = []
      let requested = 0
      yield* Effect.gen(function*() {
        for (let t = 0; t < 120_000; t += 250) {
          yield* TestClock.setTime(t)
          const burst = (yield* Random.nextIntBetween(0, 10)) < 3 ? yield* Random.nextIntBetween(1, 8) : 0
          for (let i = 0; i < burst; i++) {
            const runner = (yield* Random.nextBoolean) ? runnerA : runnerB
            const delay = yield* runner.reserve
            admitted.push(t + Duration.toMillis(delay))
            requested++
          }
        }
      }).pipe(Effect.withRandom(Random.make("two-runners")))

      expect(requested).toBeGreaterThan(200)
      expect(admitted).toHaveLength(requested)
      expect(busiestSpan(admitted)).toBeLessThanOrEqual(limit)
      // Not trivially safe: the queue keeps KIE close to its limit.
      expect(busiestSpan(admitted)).toBeGreaterThanOrEqual(limit - 2)
      const keys = yield* Effect.promise(() => admin.keys(`${prefix}*`))
      expect(keys.length).toBeGreaterThan(0)
    }), 120_000)

  it.scoped("waiting callers are admitted in the order they asked, none dropped", () =>
    Effect.gen(function*() {
      const limiter = yield* memoryLimiter(20)
      const order = yield* Ref.make<Array<readonly [caller: number, at: number]>>([])
      const fibers: Array<Fiber.RuntimeFiber<void>> = []
      for (let caller = 0; caller < 40; caller++) {
        fibers.push(
          yield* limiter.reserve.pipe(
            Effect.flatMap(Effect.sleep),
            Effect.zipRight(Clock.currentTimeMillis),
            Effect.flatMap((at) => Ref.update(order, (list) => [...list, [caller, at] as const])),
            Effect.fork
          )
        )
        yield* Effect.yieldNow()
      }
      yield* TestClock.adjust("1 minute")
      yield* Fiber.joinAll(fibers)
      const admitted = yield* Ref.get(order)
      // Callers admitted at the same instant may finish in either order; what matters is
      // that no caller is admitted before one who asked earlier.
      const byCaller = [...admitted].sort(([a], [b]) => a - b)
      expect(byCaller.map(([caller]) => caller)).toEqual(Array.from({ length: 40 }, (_, i) => i))
      const times = byCaller.map(([, at]) => at)
      expect(times.every((at, i) => i === 0 || at > times[i - 1]! || (at === 0 && i < 2))).toBe(true)
      expect(busiestSpan(times)).toBeLessThanOrEqual(20)
      // The first two go at once (the burst); the rest one step apart.
      expect(times.slice(0, 2)).toEqual([0, 0])
      expect(times[2]).toBeGreaterThan(0)
    }))
})
