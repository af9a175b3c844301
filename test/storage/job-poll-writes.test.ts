/**
 * The waker's polls written together (JobRepo.advancePolls, src/storage/job-repo.ts): each
 * row is written only if it is still at its version and still polling, and the caller
 * learns which were; on Postgres the lot is one statement, with a job named twice in a
 * second one.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { JobId } from "../../src/domain/ids.js"
import type { PolledRow } from "../../src/storage/job-poll-writes.js"
import { JobRepo } from "../../src/storage/job-repo.js"
import { dialects } from "../support/database.js"
import { jobRepoOn, withJobRepo } from "../support/job-repo.js"
import { withStatements } from "../support/statements.js"


interface Row {
  readonly id: string
  readonly state: string
  readonly version: number
  readonly due_at_ms: number | string | null
  readonly leased_at_ms: number | string | null
  readonly polls: number
  readonly failed_polls: number
  readonly progress_at_ms: number | string | null
}

describe.each(dialects)("polls written together on %s", (dialect) => {
  it.scoped("are written where the row is still at its version and polling, and say which were", () =>
    Effect.gen(function*() {
      const layer = yield* jobRepoOn(dialect)
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const repo = yield* JobRepo
        yield* sql`INSERT INTO users (id, first_name) VALUES (7001, 'Ann')`
        const job = (id: string, state: string, version: number) =>
          sql`INSERT INTO jobs (id, user_id, chat_id, request_key, state, model, prompt, cost, photo_file_id, kie_task_id,
                                version, due_at_ms, polls, failed_polls, poll_deadline_ms)
              VALUES (${id}, 7001, 7001, ${`key-${id}`}, ${state}, 'm', 'p', 1, 'f', ${`task-${id}`},
                      ${version}, 1000, 1, 0, 900000)`
        yield* job("polled", "polling", 3)
        yield* job("moved-on", "polling", 5)
        yield* job("delivering", "delivering", 2)
        const poll = (jobId: string, version: number): PolledRow => ({
          jobId,
          version,
          columns: {
            kie_task_id: `task-${jobId}`,
            attempts: 0,
            poll_deadline_ms: 900_000,
            polls: 2,
            failed_polls: 1,
            progress_at_ms: 61_000
          },
          dueAtMs: 70_000.4,
          leasedAtMs: null
        })

        const [written, statements] = yield* withStatements(
          repo.advancePolls([poll("polled", 3), poll("moved-on", 4), poll("delivering", 2)])
        )
        assert.deepStrictEqual(written, [true, false, false])
        if (dialect === "pg") assert.strictEqual(statements.length, 1)

        const rows = yield* sql<Row>`
          SELECT id, state, version, due_at_ms, leased_at_ms, polls, failed_polls, progress_at_ms FROM jobs ORDER BY id`
        assert.deepStrictEqual(
          rows.map((row) => [row.id, row.state, row.version, Number(row.due_at_ms), row.leased_at_ms, row.polls, row.failed_polls]),
          [
            ["delivering", "delivering", 2, 1000, null, 1, 0],
            ["moved-on", "polling", 5, 1000, null, 1, 0],
            ["polled", "polling", 4, 70_001, null, 2, 1]
          ]
        )
        assert.strictEqual(Number(rows.find((row) => row.id === "polled")!.progress_at_ms), 61_000)
        // Nothing moved between states, so no event was written.
        assert.strictEqual((yield* sql`SELECT id FROM job_events`).length, 0)

        // Two polls of one job in a group (two runs that raced): only the one at the row's
        // version is written and told so, whichever comes first.
        assert.deepStrictEqual(yield* repo.advancePolls([poll("polled", 3), poll("polled", 4), poll("polled", 4)]), [
          false,
          true,
          false
        ])
        const [again] = yield* sql<Row>`SELECT version, polls FROM jobs WHERE id = 'polled'`
        assert.strictEqual(again!.version, 5)
      }).pipe(Effect.provide(layer))
    }), 60_000)

  it.scoped("a KIE callback's due time stands against a poll that read the row before it", () =>
    withJobRepo(dialect, (sql, repo) =>
      Effect.gen(function*() {
        yield* sql`INSERT INTO users (id, first_name) VALUES (7003, 'Cy')`
        // Ids of the product's shape: dueBy takes a JobId.
        const ids = { claimed: `job_${"c".repeat(24)}`, delivering: `job_${"d".repeat(24)}`, dueSoon: `job_${"e".repeat(24)}` }
        const job = (id: string, state: string, dueAtMs: number) =>
          sql`INSERT INTO jobs (id, user_id, chat_id, request_key, state, model, prompt, cost, photo_file_id, kie_task_id,
                                version, due_at_ms, polls, failed_polls, poll_deadline_ms)
              VALUES (${id}, 7003, 7003, ${`key-${id}`}, ${state}, 'm', 'p', 1, 'f', ${`task-${id}`},
                      3, ${dueAtMs}, 1, 0, 900000)`
        // Claimed by the waker (due at the end of its lease) and under a poll that read version 3.
        yield* job(ids.claimed, "polling", 90_000)
        // Due sooner than the callback asks: it keeps its time, but still leaves stale polls out.
        yield* job(ids.dueSoon, "polling", 5_000)
        yield* job(ids.delivering, "delivering", 90_000)
        const staleWrite = (jobId: string): PolledRow => ({
          jobId,
          version: 3,
          columns: {
            kie_task_id: `task-${jobId}`,
            attempts: 0,
            poll_deadline_ms: 900_000,
            polls: 2,
            failed_polls: 0,
            progress_at_ms: null
          },
          // "Still generating": the next safety poll, minutes away.
          dueAtMs: 300_000,
          leasedAtMs: null
        })

        for (const id of Object.values(ids)) yield* repo.dueBy(JobId.make(id), 15_000)
        assert.deepStrictEqual(yield* repo.advancePolls([staleWrite(ids.claimed), staleWrite(ids.dueSoon)]), [false, false])

        const rows = yield* sql<Row>`SELECT id, state, version, due_at_ms FROM jobs ORDER BY id`
        assert.deepStrictEqual(rows.map((row) => [row.id, row.version, Number(row.due_at_ms)]), [
          [ids.claimed, 4, 15_000],
          [ids.delivering, 3, 90_000],
          [ids.dueSoon, 4, 5_000]
        ])
      })), 60_000)
})
