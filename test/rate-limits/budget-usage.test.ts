import { RateLimiter } from "@effect/experimental"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { makeBudgetUsage } from "../../src/rate-limits/budget-usage.js"
import type { LimitRequest } from "../../src/rate-limits/limit-request.js"

const flood = (userId: number): LimitRequest => ({
  key: `flood:${userId}`,
  limit: 20,
  window: Duration.minutes(1),
  algorithm: "fixed-window",
  onExceeded: "fail"
})

const allowed = (delayMs: number) => Effect.succeed<RateLimiter.ConsumeResult>({
  delay: Duration.millis(delayMs),
  limit: 20,
  remaining: 1,
  resetAfter: Duration.minutes(1)
})

const refused = (retryAfterMs: number) =>
  Effect.fail(
    new RateLimiter.RateLimitExceeded({
      key: "flood",
      limit: 20,
      remaining: 0,
      retryAfter: Duration.millis(retryAfterMs)
    })
  )

describe("the budgets' usage", () => {
  it.effect("counts a minute of answers per budget: requests, keys, those held and the longest wait", () =>
    Effect.gen(function*() {
      const usage = yield* makeBudgetUsage()
      yield* usage.track(flood(1), allowed(0))
      yield* usage.track(flood(2), allowed(250))
      yield* Effect.either(usage.track(flood(2), refused(4_000)))
      assert.deepStrictEqual((yield* usage.snapshot).map(({ budget, held, keys, longestWaitMs, requests }) => ({ budget, requests, keys, held, longestWaitMs })), [
        { budget: "flood:*", requests: 3, keys: 2, held: 2, longestWaitMs: 4_000 }
      ])
      yield* TestClock.adjust("40 seconds")
      yield* usage.track(flood(3), allowed(0))
      yield* TestClock.adjust("25 seconds")
      // The first three are more than a minute old.
      assert.deepStrictEqual((yield* usage.snapshot).map(({ keys, requests }) => ({ requests, keys })), [{ requests: 1, keys: 1 }])
    }))

  it.effect("past its cap a budget keeps the newest answers, however many come, with no snapshot taken meanwhile", () =>
    Effect.gen(function*() {
      const usage = yield* makeBudgetUsage({ maxEvents: 100 })
      for (let i = 0; i < 1_000; i++) {
        // The last 30 waited: only those may count as held.
        yield* usage.track(flood(i), allowed(i >= 970 ? 10 : 0))
        if (i % 100 === 0) yield* TestClock.adjust("1 second")
      }
      const [budget] = yield* usage.snapshot
      assert.strictEqual(budget!.requests, 100)
      assert.strictEqual(budget!.keys, 100)
      assert.strictEqual(budget!.held, 30)
      // Older than a minute, the newest too, once time has passed.
      yield* TestClock.adjust("61 seconds")
      assert.strictEqual((yield* usage.snapshot)[0]!.requests, 0)
      yield* usage.track(flood(1), allowed(0))
      assert.strictEqual((yield* usage.snapshot)[0]!.requests, 1)
    }))
})
