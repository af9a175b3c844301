import { RateLimiter } from "@effect/experimental"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Random, TestClock } from "effect"
import { type LimiterStore, makeMemoryStore } from "../../src/rate-limits/memory-store.js"

const limiterOn = (store: LimiterStore) =>
  RateLimiter.make.pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))

/** A chat's bucket as the Telegram limits use it: a burst of 3, then one per second. */
const chat = (id: number | string, onExceeded: "delay" | "fail" = "fail") => ({
  key: `telegram:chat:${id}`,
  limit: 3,
  window: Duration.seconds(3),
  algorithm: "token-bucket" as const,
  onExceeded
})

const flood = (id: number) => ({
  key: `flood:${id}`,
  limit: 5,
  window: Duration.minutes(1),
  algorithm: "fixed-window" as const,
  onExceeded: "fail" as const
})

const outcome = (exit: Exit.Exit<RateLimiter.ConsumeResult, RateLimiter.RateLimiterError>) =>
  Exit.isSuccess(exit)
    ? `ok ${Duration.toMillis(exit.value.delay)}`
    : exit.cause._tag === "Fail" && exit.cause.error.reason === "Exceeded"
    ? `exceeded ${Duration.toMillis(exit.cause.error.retryAfter)}`
    : "error"

describe("the in-process store", () => {
  it.effect("answers as the library's memory store while its entries are live", () =>
    Effect.gen(function*() {
      const bounded = yield* limiterOn((yield* makeMemoryStore()).store)
      const library = yield* RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory))
      // Busy traffic on a few keys, so that no entry outlives its use.
      for (let step = 0; step < 200; step++) {
        yield* TestClock.adjust(yield* Random.nextIntBetween(0, 120))
        const id = yield* Random.nextIntBetween(0, 3)
        const kind = yield* Random.nextIntBetween(0, 3)
        const request = kind === 0 ? chat(id, "fail") : kind === 1 ? chat(id, "delay") : flood(id)
        const [mine, theirs] = [yield* Effect.exit(bounded.consume(request)), yield* Effect.exit(library.consume(request))]
        expect(outcome(mine), `step ${step}`).toBe(outcome(theirs))
      }
    }).pipe(Effect.withRandom(Random.make("memory-store"))))

  it.effect("keeps a bucket until it is full again, then forgets it", () =>
    Effect.gen(function*() {
      const memory = yield* makeMemoryStore({ sweepEvery: "1 millis" })
      const limiter = yield* limiterOn(memory.store)
      for (let i = 0; i < 3; i++) yield* limiter.consume(chat(1))
      expect(outcome(yield* Effect.exit(limiter.consume(chat(1))))).toBe("exceeded 1000")
      // Full again at 3 s; kept one step longer, while it still could matter.
      yield* TestClock.adjust("3500 millis")
      yield* limiter.consume(chat(2))
      expect(memory.size().buckets).toBe(2)
      yield* TestClock.adjust("1 second")
      yield* limiter.consume(chat(2))
      expect(memory.size().buckets).toBe(1)
      yield* TestClock.adjust("61 seconds")
      yield* limiter.consume(flood(1))
      yield* TestClock.adjust("61 seconds")
      yield* limiter.consume(flood(2))
      expect(memory.size()).toEqual({ windows: 1, buckets: 0 })
    }))

  it.effect("holds at most maxKeys entries, dropping the least recently used", () =>
    Effect.gen(function*() {
      const memory = yield* makeMemoryStore({ maxKeys: 100 })
      const limiter = yield* limiterOn(memory.store)
      for (let i = 0; i < 3; i++) yield* limiter.consume(chat("hot"))
      for (let id = 0; id < 1_000; id++) {
        yield* limiter.consume(chat(id))
        yield* limiter.consume(flood(id))
        // A chat in use stays.
        if (id % 50 === 0) expect(outcome(yield* Effect.exit(limiter.consume(chat("hot"))))).toMatch(/^exceeded/)
      }
      expect(memory.size()).toEqual({ windows: 100, buckets: 100 })
    }))
})
