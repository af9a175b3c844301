import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Random, Ref, TestClock } from "effect"
import { type KieError, KieOperatorError, KieTransientError, KieUnknownError } from "../../src/errors/kie-errors.js"
import { retryKie, retryKieFrom, transientBase, transientJitter } from "../../src/kie/retry-schedules.js"

const rateLimited = new KieTransientError({ reason: "RateLimited", operation: "createTask", code: 429 })

// A call that fails with the given errors in order, then succeeds; counts its attempts.
const scripted = (failures: ReadonlyArray<KieError>) =>
  Effect.gen(function*() {
    const attempts = yield* Ref.make(0)
    const call = Ref.getAndUpdate(attempts, (n) => n + 1).pipe(
      Effect.flatMap((n) => n < failures.length ? Effect.fail(failures[n]!) : Effect.succeed("task_ok"))
    )
    return { attempts, call }
  })

const seed = "kie-retry-test"

describe("retry schedules", () => {
  it.effect("three 429s then success completes after exactly the expected backoff", () =>
    Effect.gen(function*() {
      // The same seed gives the same three jitter draws the schedule will use.
      const draws = Random.make(seed)
      let expected = 0
      for (const step of [0, 1, 2]) {
        const r = yield* draws.next
        const base = Duration.toMillis(transientBase) * 2 ** step
        expected = expected + (base * transientJitter.min * (1 - r) + base * transientJitter.max * r)
      }
      expect(expected).toBeGreaterThanOrEqual(70_000)
      expect(expected).toBeLessThanOrEqual(91_000)

      const { attempts, call } = yield* scripted([rateLimited, rateLimited, rateLimited])
      const fiber = yield* retryKie(call).pipe(Effect.withRandom(Random.make(seed)), Effect.fork)

      yield* TestClock.setTime(expected - 1)
      expect(yield* Ref.get(attempts)).toBe(3)
      expect(fiber.unsafePoll()).toBeNull()

      yield* TestClock.setTime(expected)
      expect(yield* Fiber.join(fiber)).toBe("task_ok")
      expect(yield* Ref.get(attempts)).toBe(4)
    }))

  it.effect("KIE_RETRY_BASE scales the whole schedule: 2 s gives 2, 4, 8, 16, 24 s (the cap, 12 × base) before jitter", () =>
    Effect.gen(function*() {
      const draws = Random.make(seed)
      let expected = 0
      for (const base of [2_000, 4_000, 8_000, 16_000, 24_000]) {
        const r = yield* draws.next
        expected = expected + (base * transientJitter.min * (1 - r) + base * transientJitter.max * r)
      }
      const { attempts, call } = yield* scripted([rateLimited, rateLimited, rateLimited, rateLimited, rateLimited])
      const fiber = yield* retryKieFrom(Duration.seconds(2))(call).pipe(Effect.withRandom(Random.make(seed)), Effect.fork)

      yield* TestClock.setTime(expected - 1)
      expect(yield* Ref.get(attempts)).toBe(5)
      expect(fiber.unsafePoll()).toBeNull()

      yield* TestClock.setTime(expected)
      expect(yield* Fiber.join(fiber)).toBe("task_ok")
      expect(yield* Ref.get(attempts)).toBe(6)
    }))

  it.effect("an operator error is never retried", () =>
    Effect.gen(function*() {
      const { attempts, call } = yield* scripted([
        new KieOperatorError({ reason: "AccountOutOfCredits", operation: "createTask", code: 402 })
      ])
      const exit = yield* retryKie(call).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* Ref.get(attempts)).toBe(1)
      yield* TestClock.adjust("1 hour")
      expect(yield* Ref.get(attempts)).toBe(1)
    }))

  it.effect("transient failures stop after five retries", () =>
    Effect.gen(function*() {
      const { attempts, call } = yield* scripted(Array.from({ length: 10 }, () => rateLimited))
      const fiber = yield* retryKie(call).pipe(Effect.withRandom(Random.make(seed)), Effect.fork)
      yield* TestClock.adjust("1 hour")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      // The last error is still transient, so the unknown schedule does not start over.
      expect(yield* Ref.get(attempts)).toBe(6)
    }))

  it.effect("an unknown error gets two more attempts, 5 seconds apart", () =>
    Effect.gen(function*() {
      const unknown = new KieUnknownError({ reason: "ServerError", operation: "recordInfo", code: 500 })
      const { attempts, call } = yield* scripted([unknown, unknown, unknown, unknown])
      const fiber = yield* retryKie(call).pipe(Effect.fork)
      yield* TestClock.adjust("4999 millis")
      expect(yield* Ref.get(attempts)).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Ref.get(attempts)).toBe(2)
      yield* TestClock.adjust("5 seconds")
      expect(yield* Ref.get(attempts)).toBe(3)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
    }))

  it.effect("a createTask with an unknown outcome is left to the job, not resubmitted", () =>
    Effect.gen(function*() {
      const { attempts, call } = yield* scripted([
        new KieUnknownError({ reason: "SubmitOutcomeUnknown", operation: "createTask" })
      ])
      const exit = yield* retryKie(call).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* Ref.get(attempts)).toBe(1)
    }))
})
