/**
 * A runner holds at most MAX_CONCURRENT_TRANSFERS photos in memory at once: from the
 * download from Telegram to the end of the upload to KIE, each takes a permit. The
 * simulator counts the downloads it serves at once; a slow file server makes them overlap.
 * A photo that waits for a permit waits in the runner's queue (src/jobs/photo-uploads.ts),
 * not in its job's entity.
 */
import { ClusterMetrics } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Metric } from "effect"
import { queuedTransferLeaseMs } from "../../src/jobs/job-policy.js"
import { makeTransferPermits, transfersInProgress, transfersWaiting } from "../../src/jobs/transfer-permits.js"
import { keepStandardTestClock } from "../support/prompt-test-clock.js"
import { advance, advanceUntil, inRunner, quickGeneration, reaches, sendPhotoAndStart, startSimulators, stateOf } from "../support/job-harness.js"

const jobEntities = Effect.map(
  Metric.value(ClusterMetrics.entities.pipe(Metric.tagged("type", "Job"))),
  (state) => Number(state.value)
)
const waitingTransfers = Effect.map(Metric.value(transfersWaiting), (state) => Number(state.value))

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

  it.scoped("photos waiting for the one permit hold no job entity and are not woken again while they wait; then all become videos", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators("sqlite", { kie: quickGeneration.kie, env: { MAX_CONCURRENT_TRANSFERS: "1" } })
      const release = sims.telegram.fileDownloads.hold()
      yield* inRunner(sims, Effect.gen(function*() {
        const waitingBefore = yield* waitingTransfers
        const started = yield* Effect.forEach([6301, 6302, 6303, 6304], (userId) => sendPhotoAndStart(sims, userId))
        // The first job's run holds the permit (its download is held); the other three queue.
        assert.isTrue(yield* advanceUntil(sims.kie, () => Effect.map(waitingTransfers, (n) => n === waitingBefore + 3), "30 seconds", "1 second"))
        // Idle entities are reaped within seconds; then only the run holding the permit is in memory.
        yield* advance(sims.kie, "15 seconds")
        // Past the jobs' 1-minute lease: the queue keeps the leases of its jobs, so the waker
        // does not wake them again (each wake-up would bring an entity back for seconds).
        let most = 0
        for (let i = 0; i < 15; i++) {
          yield* advance(sims.kie, "5 seconds")
          most = Math.max(most, yield* jobEntities)
        }
        assert.strictEqual(most, 1, "only the job whose run holds the permit has an entity")
        // Kept on a long lease: a renewal is a row written, and tens of thousands wait under a burst.
        const sql = yield* SqlClient.SqlClient
        const now = yield* Clock.currentTimeMillis
        const dues = yield* sql<{ due_at_ms: number | string }>`SELECT due_at_ms FROM jobs WHERE ${sql.in("id", started.slice(1).map((job) => job.jobId))}`
        assert.strictEqual(dues.length, 3)
        for (const { due_at_ms } of dues) assert.isAbove(Number(due_at_ms) - now, queuedTransferLeaseMs / 2)
        // Still queued: their rows wait unchanged for the photo, and the wake-up brings them along.
        assert.deepStrictEqual(yield* Effect.forEach(started.slice(1), (job) => stateOf(job.jobId)), ["queued", "queued", "queued"])
        assert.strictEqual(yield* waitingTransfers, waitingBefore + 3)
        assert.strictEqual(sims.telegram.fileDownloads.total, 1)
        release()
        const allDelivered = () =>
          Effect.map(Effect.forEach(started, (job) => reaches(job.jobId, "delivered")()), (done) => done.every(Boolean))
        assert.isTrue(yield* advanceUntil(sims.kie, allDelivered, "6 minutes"))
        assert.strictEqual(yield* waitingTransfers, waitingBefore)
        assert.strictEqual(sims.telegram.fileDownloads.total, 4)
        assert.strictEqual(sims.telegram.fileDownloads.peak, 1)
        assert.strictEqual(sims.kie.uploads().length, 4)
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, 4)
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
