/**
 * A delivered job's write (JobRepo.advance, src/storage/job-repo.ts): the row, its event and
 * the reservation's capture go together (one statement on Postgres, one transaction on
 * SQLite), and a write that finds the row moved on writes none of them, the capture
 * included: a stale run must not spend a reservation that a refund is settling.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { JobId } from "../../src/domain/ids.js"
import { JobRepo } from "../../src/storage/job-repo.js"
import { dialects } from "../support/database.js"
import { jobRepoOn } from "../support/job-repo.js"
import { withStatements } from "../support/statements.js"

const jobId = JobId.make("job_0123456789abcdef01234567")

describe.each(dialects)("the delivered write on %s", (dialect) => {
  it.scoped("captures with the row and its event, and nothing when the row moved on", () =>
    Effect.gen(function*() {
      const layer = yield* jobRepoOn(dialect)
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const repo = yield* JobRepo
        yield* sql`INSERT INTO users (id, first_name) VALUES (7002, 'Bo')`
        yield* sql`INSERT INTO jobs (id, user_id, chat_id, request_key, state, model, prompt, cost, photo_file_id, version)
                   VALUES (${jobId}, 7002, 7002, 'key-1', 'delivering', 'm', 'p', 1, 'f', 4)`
        yield* sql`INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free, job_id)
                   VALUES (7002, ${`reserve:${jobId}`}, 'reserve', -1, 0, ${jobId})`
        const deliver = (version: number) =>
          repo.advance(jobId, { version, state: "delivering" }, {
            state: "delivered",
            changes: { video_message_id: 77 },
            dueAtMs: null,
            leasedAtMs: null,
            detail: "video sent"
          })
        const settlements = sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE job_id = ${jobId} AND kind <> 'reserve'`
        const events = sql<{ to_state: string }>`SELECT to_state FROM job_events WHERE job_id = ${jobId}`

        assert.isFalse(yield* deliver(3))
        assert.deepStrictEqual(yield* settlements, [])
        assert.deepStrictEqual(yield* events, [])

        const [written, statements] = yield* withStatements(deliver(4))
        assert.notStrictEqual(written, false)
        if (dialect === "pg") assert.strictEqual(statements.length, 1)
        assert.deepStrictEqual((yield* settlements).map((row) => row.kind), ["capture"])
        assert.deepStrictEqual((yield* events).map((row) => row.to_state), ["delivered"])
        const [row] = yield* sql<{ state: string; version: number; video_message_id: number | string }>`
          SELECT state, version, video_message_id FROM jobs WHERE id = ${jobId}`
        assert.deepStrictEqual([row!.state, row!.version, Number(row!.video_message_id)], ["delivered", 5, 77])
      }).pipe(Effect.provide(layer))
    }), 60_000)
})
