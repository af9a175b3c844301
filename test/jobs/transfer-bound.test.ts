/**
 * A runner holds at most MAX_CONCURRENT_TRANSFERS photos in memory at once: from the
 * download from Telegram to the end of the upload to KIE, each takes a permit. The
 * simulator counts the downloads it serves at once; a slow file server makes them overlap.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric } from "effect"
import { makeTransferPermits, transfersInProgress, transfersWaiting } from "../../src/jobs/transfer-permits.js"
import { keepStandardTestClock } from "../support/prompt-test-clock.js"
import { advanceUntil, inRunner, quickGeneration, reaches, sendPhotoAndStart, startSimulators } from "../support/job-harness.js"

describe("file transfers per runner", () => {
  it.scoped("with MAX_CONCURRENT_TRANSFERS=2, four photos sent at once are fetched two at a time, and all four become videos", () =>
    Effect.gen(function*() {
      yield* keepStandardTestClock
      const sims = yield* startSimulators("sqlite", { kie: quickGeneration.kie, env: { MAX_CONCURRENT_TRANSFERS: "2" } })
      // Slow enough that unbounded downloads would all overlap, and bounded ones fill the bound.
      sims.telegram.fileDownloads.delayMs = 1_000
      yield* inRunner(sims, Effect.gen(function*() {
        const userIds = [6201, 6202, 6203, 6204]
        const started = yield* Effect.forEach(userIds, (userId) => sendPhotoAndStart(sims, userId), { concurrency: "unbounded" })
        const allDelivered = () =>
          Effect.map(Effect.forEach(started, (job) => reaches(job.jobId, "delivered")()), (done) => done.every(Boolean))
        assert.isTrue(yield* advanceUntil(sims.kie, allDelivered, "6 minutes"))
        assert.strictEqual(sims.telegram.fileDownloads.total, userIds.length)
        assert.strictEqual(sims.telegram.fileDownloads.peak, 2)
        assert.strictEqual(sims.kie.uploads().length, userIds.length)
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, userIds.length)
      }))
    }), 120_000)

  it.effect("the in-progress and waiting gauges count each transfer once, also one interrupted while it waits", () =>
    Effect.gen(function*() {
      const counts = Effect.all([transfersInProgress, transfersWaiting].map((gauge) =>
        Effect.map(Metric.value(gauge), (state) => state.value)))
      const before = yield* counts
      const permits = yield* makeTransferPermits(1)
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(permits.withPermit(Deferred.await(release)))
      const waiters = yield* Effect.forEach([1, 2], () => Effect.fork(permits.withPermit(Effect.void)))
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      assert.deepStrictEqual(yield* counts, [before[0] + 1, before[1] + 2])
      yield* Fiber.interrupt(waiters[0]!)
      assert.deepStrictEqual(yield* counts, [before[0] + 1, before[1] + 1])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(waiters[1]!)
      assert.deepStrictEqual(yield* counts, before)
    }))
})
