/**
 * The defect the chaos test found: a job whose persisted keep-alive is lost in a shard
 * hand-over is never woken again. Here the loss is made exact: the runner stops while the
 * job polls, its keep-alive message is deleted from the cluster's storage, and a new
 * runner starts. Nothing drives the job until its row is stale; then the watchdog's
 * `Resume` starts the driver and the job completes once.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import { KeepAliveRpc } from "@effect/cluster/Entity"
import { dialects } from "../support/database.js"
import {
  advance,
  advanceUntil,
  inRunner,
  quickGeneration,
  reaches,
  sendPhotoAndStart,
  startSimulators,
  stateOf
} from "../support/job-harness.js"

describe.each(dialects)("job watchdog on %s", (dialect) => {
  it.scoped("wakes a polling job whose keep-alive was lost, and only once its row is stale", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, {
        ...quickGeneration,
        env: { JOB_WATCHDOG_INTERVAL: "1m", JOB_STALE_AFTER: "10m" }
      })
      const jobId = yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 7301)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "polling"), "3 minutes", "1 second"))
        return started.jobId
      }))

      yield* inRunner(sims, Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        // A keep-alive lost in a hand-over: the new runner has no message that names the job.
        yield* sql`DELETE FROM cluster_messages WHERE entity_id = ${jobId} AND tag = ${KeepAliveRpc._tag}`
        yield* advance(sims.kie, "3 minutes")
        assert.strictEqual(yield* stateOf(jobId), "polling", "without a wake-up the job is stranded")

        // Its row has not changed for longer than JOB_STALE_AFTER (database time).
        const old = sql.onDialectOrElse({ pg: () => sql`TIMESTAMPTZ '2000-01-01 00:00:00+00'`, orElse: () => sql`'2000-01-01 00:00:00'` })
        yield* sql`UPDATE jobs SET updated_at = ${old} WHERE id = ${jobId}`
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(jobId, "delivered"), "5 minutes"))
        const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE job_id = ${jobId} ORDER BY id`
        assert.deepStrictEqual(kinds.map((row) => row.kind), ["reserve", "capture"])
      }))
      assert.strictEqual(sims.kie.tasks().length, 1, "one KIE task")
      assert.strictEqual(sims.telegram.callsOf("sendVideo").filter((call) => call.outcome.ok).length, 1, "one video")
    }), 120_000)

  it.scoped("reports a live driver that has not moved, with the place it sits in", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, {
        ...quickGeneration,
        env: { JOB_WATCHDOG_INTERVAL: "30s", JOB_STALE_AFTER: "10m" }
      })
      const lines: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.map(Logger.logfmtLogger, (line) => lines.push(line)))
      // Telegram takes its time over the video (real seconds, while minutes pass on the TestClock).
      sims.telegram.injectFault({ kind: "delay", ms: 15_000, method: "sendVideo", times: 1 })
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 7302)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "delivering"), "3 minutes", "1 second"))
        const sql = yield* SqlClient.SqlClient
        const old = sql.onDialectOrElse({ pg: () => sql`TIMESTAMPTZ '2000-01-01 00:00:00+00'`, orElse: () => sql`'2000-01-01 00:00:00'` })
        yield* sql`UPDATE jobs SET updated_at = ${old} WHERE id = ${started.jobId}`
        // Two minutes at "sending the video", then the watchdog's next pass reports it.
        const reported = () => Effect.sync(() => lines.some((line) => line.includes("job driver has not moved")))
        assert.isTrue(yield* advanceUntil(sims.kie, reported, "4 minutes", "10 seconds"), "no report")
        const reports = lines.filter((line) => line.includes("job driver has not moved"))
        assert.include(reports[0]!, "sending the video")
        assert.include(reports[0]!, started.jobId)
        // The report changes nothing: the video goes out once and the job ends.
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "10 minutes", "1 second"))
      })).pipe(Effect.provide(capture), Logger.withMinimumLogLevel(LogLevel.Info))
      assert.strictEqual(sims.telegram.callsOf("sendVideo").filter((call) => call.outcome.ok).length, 1, "one video")
    }), 120_000)
})
