/**
 * A step's lease outlives a runner that dies mid-step (kill -9: nothing releases it). The
 * job waker ends such leases when it starts, and when a runner it saw live is gone, so the
 * job goes on at once instead of a lease later; a wake-up a job asked for (its next poll, a
 * backoff) stays as it was. The dead runner's lease is written into the row by hand, as a
 * step's write leaves it, before the runner stops. And the first poll after a submission is
 * a wake-up the job asks for, 5 s on: no lease, and the waker makes it once.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { wakeLeaseMs } from "../../src/jobs/job-policy.js"
import { dialects } from "../support/database.js"
import { advance, advanceUntil, inRunner, quickGeneration, reaches, sendPhotoAndStart, startSimulators } from "../support/job-harness.js"

for (const dialect of dialects) {
  describe(`job leases on ${dialect}`, () => {
    it.scoped("a lease left by a dead runner ends when the next waker starts; a wake-up a job asked for does not move", () =>
      Effect.gen(function*() {
        const sims = yield* startSimulators(dialect, quickGeneration)
        const { leased, asked, askedFor } = yield* inRunner(sims, Effect.gen(function*() {
          const [leased, asked] = yield* Effect.forEach([7301, 7302], (userId) => sendPhotoAndStart(sims, userId))
          for (const job of [leased!, asked!]) {
            assert.isTrue(yield* advanceUntil(sims.kie, reaches(job.jobId, "polling"), "3 minutes", "1 second"))
          }
          const sql = yield* SqlClient.SqlClient
          const now = Math.floor(yield* Clock.currentTimeMillis)
          const askedFor = now + 10 * 60_000
          // Ten leases long, so that the virtual time a runner's release lets pass
          // (test/support/runner.ts) cannot end it; the version moves as a step's write moves
          // it, so that a poll under way meanwhile writes nothing over it.
          const leaseUntil = now + 10 * wakeLeaseMs
          yield* sql`UPDATE jobs SET due_at_ms = ${leaseUntil}, leased_at_ms = ${now}, version = version + 1
                     WHERE id = ${leased!.jobId}`
          yield* sql`UPDATE jobs SET due_at_ms = ${askedFor}, leased_at_ms = NULL, version = version + 1
                     WHERE id = ${asked!.jobId}`
          return { leased: leased!.jobId, asked: asked!.jobId, askedFor }
        }))
        // KIE finishes both videos while no runner is up.
        yield* Effect.promise(() => sims.kie.advance(60_000))

        yield* inRunner(sims, Effect.gen(function*() {
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(leased, "delivered"), "15 seconds", "1 second"))
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql<{ state: string; due_at_ms: number | string }>`
            SELECT state, due_at_ms FROM jobs WHERE id = ${asked}`
          assert.deepStrictEqual(rows.map((row) => [row.state, Number(row.due_at_ms)]), [["polling", askedFor]])
        }))
        assert.strictEqual(sims.telegram.callsOf("sendVideo").filter((call) => call.outcome.ok).length, 1)
      }), 120_000)

    // A submission's run ends at the task's creation: the first poll waits the cadence's
    // first 5 s (KIE has no video before that) and is the waker's, made once.
    it.scoped("a submission's run ends with the first poll due 5 s on, unleased; the waker makes it once", () =>
      Effect.gen(function*() {
        const sims = yield* startSimulators(dialect, quickGeneration)
        const recordInfoCalls = () => sims.kie.requestCounts().get("GET /api/v1/jobs/recordInfo") ?? 0
        yield* inRunner(sims, Effect.gen(function*() {
          // The poll is not answered while the test looks: its lease is the waker's claim.
          sims.kie.setFaults({ recordInfo: [{ _tag: "Hang" }] })
          const job = yield* sendPhotoAndStart(sims, 7303)
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(job!.jobId, "polling"), "1 minute", "200 millis"))
          const sql = yield* SqlClient.SqlClient
          const now = Math.floor(yield* Clock.currentTimeMillis)
          const [row] = yield* sql<{ due_at_ms: number | string; leased_at_ms: number | string | null }>`
            SELECT due_at_ms, leased_at_ms FROM jobs WHERE id = ${job!.jobId}`
          // Submitted within the last step of virtual time.
          const dueIn = Number(row!.due_at_ms) - now
          assert.isTrue(dueIn > 4_000 && dueIn <= 5_000, `first poll due in ${dueIn} ms`)
          assert.isNull(row!.leased_at_ms)
          assert.strictEqual(recordInfoCalls(), 0, "no poll at the task's creation")
          assert.isTrue(yield* advanceUntil(sims.kie, () => Effect.succeed(recordInfoCalls() === 1), "10 seconds", "1 second"))
          // Waker passes come and go while the poll hangs.
          yield* advance(sims.kie, "5 seconds", "1 second")
          assert.strictEqual(recordInfoCalls(), 1)
        }))
      }), 120_000)
  })
}
