/**
 * Rows of `jobs` and `job_events`. Every step of a job is written here, with its event and
 * the time the job is next due, before the next step starts; each write names the version
 * it read and bumps it, so a stale writer (a second wake-up, another runner) changes nothing.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Option, Schema } from "effect"
import { Balance } from "../domain/balance.js"
import type { JobId, UserId } from "../domain/ids.js"
import { JobRecord } from "../domain/job-record.js"
import { JobState } from "../domain/job-state.js"
import { CreditLedger } from "./credit-ledger.js"
import { makeAdvancePolls } from "./job-poll-writes.js"

export interface NewJob {
  readonly id: JobId
  readonly userId: UserId
  readonly chatId: number
  readonly requestKey: string
  readonly model: string
  readonly prompt: string
  readonly cost: number
  readonly durationSeconds: number
  readonly photoFileId: string
  readonly language: string | undefined
  readonly createdAtMs: number
  /** An upload of the same photo by this user since then is reused (its URL copied to the new row). */
  readonly uploadsReusableSinceMs: number
}

/**
 * A new job is run by the volatile Wake its admission sends (or kept queued by the runner's
 * photo queue, src/jobs/photo-uploads.ts, which keeps its lease); the waker
 * (src/jobs/job-waker.ts) takes it up only if that has not moved it within this time. Short,
 * because it is what a lost Wake costs; a claim of a job whose run is merely slow to write
 * its first step only sends a second Wake, which joins that run.
 */
const startGraceMs = 5_000

/** When a new job is first due (src/storage/admission.ts inserts jobs too). */
export const firstDueAt = (createdAtMs: number) => Math.ceil(createdAtMs + startGraceMs)

/** Columns a step may set along with (or without) a state change. */
export type JobChanges = {
  readonly kie_file_url?: string | null
  readonly kie_task_id?: string | null
  readonly attempts?: number
  readonly result_url?: string | null
  readonly error_class?: string | null
  readonly error_detail?: string | null
  readonly progress_message_id?: number | null
  readonly poll_deadline_ms?: number | null
  readonly kie_succeeded_at_ms?: number | null
  readonly video_message_id?: number | null
  readonly outcome?: "deliver" | "refund" | null
  readonly polls?: number
  readonly failed_polls?: number
  readonly paused?: number
  readonly progress_at_ms?: number | null
}

export { JobRecord }

const decodeRecord = Schema.decodeUnknown(JobRecord)
const decodeRecords = Schema.decodeUnknown(Schema.Array(JobRecord))

/**
 * Now, as the BIGINT `*_ms` columns store it. Effect's live clock reads whole milliseconds,
 * but the TestClock stands at a sleeper's deadline, which a rate limiter's step (1000/27 ms)
 * or a 1.5× backoff makes fractional, and Postgres refuses 246937.5 for a BIGINT.
 */
export const storedNow = Effect.map(Clock.currentTimeMillis, Math.floor)

export class JobRepo extends Effect.Service<JobRepo>()("app/JobRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ledger = yield* CreditLedger
    const writingWith = sql.onDialectOrElse({ pg: () => true, orElse: () => false })

    const get = Effect.fn("JobRepo.get")(function*(jobId: JobId) {
      const rows = yield* sql`SELECT * FROM jobs WHERE id = ${jobId}`
      if (rows.length === 0) return Option.none<JobRecord>()
      return Option.some(yield* Effect.orDie(decodeRecord(rows[0])))
    })

    const stateOf = Effect.fn("JobRepo.stateOf")(function*(jobId: JobId) {
      const rows = yield* sql<{ state: JobState }>`SELECT state FROM jobs WHERE id = ${jobId}`
      return Option.map(Option.fromNullable(rows[0]), (row) => row.state)
    })

    /**
     * One step's write: the next state and the time the job is next due (null when it is
     * finished), only if the row is still at `version`; false when it is not (nothing
     * written). A delivered job's capture is written with it, in the same transaction: a
     * capture changes no balance, only marks the reservation spent (the ledger keeps one
     * settlement per job). The write to `delivering` returns the user's balance, which the
     * video's caption shows, so that the delivery needs no read of its own.
     */
    const advance = Effect.fn("JobRepo.advance")(function*(
      jobId: JobId,
      expected: { readonly version: number; readonly state: JobState },
      next: {
        readonly state: JobState
        readonly changes: JobChanges
        readonly dueAtMs: number | null
        /** Set when `dueAtMs` is a lease (see `endLeases`): the time it was taken. */
        readonly leasedAtMs: number | null
        readonly detail: string | null
      }
    ) {
      const delivered = next.state === "delivered" ? sql`, delivered_at = CURRENT_TIMESTAMP` : sql``
      const set = Object.keys(next.changes).length > 0 ? sql`, ${sql.update(next.changes)}` : sql``
      const due = next.dueAtMs === null ? null : Math.ceil(next.dueAtMs)
      const leasedAt = next.leasedAtMs === null ? null : Math.floor(next.leasedAtMs)
      const balance = next.state === "delivering"
        ? sql`, (SELECT b.credits FROM balances b WHERE b.user_id = jobs.user_id) AS credits,
                (SELECT b.free_tokens FROM balances b WHERE b.user_id = jobs.user_id) AS free_tokens`
        : sql``
      const update = sql<{ credits?: number | string | null; free_tokens?: number | string | null }>`
        UPDATE jobs SET state = ${next.state}, version = version + 1, due_at_ms = ${due}, leased_at_ms = ${leasedAt},
                        updated_at = CURRENT_TIMESTAMP ${delivered} ${set}
        WHERE id = ${jobId} AND version = ${expected.version}
        RETURNING id ${balance}`
      const moved = next.state !== expected.state
      // Postgres: the row, its event and a delivered job's capture (CreditLedger) in one
      // statement, which needs no transaction (one round trip instead of five: also the
      // window in which a kill -9 after Telegram took the video makes a second one). SQLite
      // has no writing WITH: a short transaction.
      const capture = next.state === "delivered"
        ? sql`, cap AS (${ledger.captureStatement(jobId, sql`EXISTS (SELECT 1 FROM upd)`)})`
        : sql``
      const updated = yield* writingWith
        ? (moved
          ? sql<{ credits?: number | string | null; free_tokens?: number | string | null }>`
              WITH upd AS (${update}),
              ev AS (INSERT INTO job_events (job_id, from_state, to_state, detail)
                     SELECT id, ${expected.state}, ${next.state}, ${next.detail} FROM upd)
              ${capture}
              SELECT * FROM upd`
          : update)
        : Effect.gen(function*() {
          const rows = yield* update
          if (rows.length === 0) return rows
          if (moved) {
            yield* sql`INSERT INTO job_events (job_id, from_state, to_state, detail)
                       VALUES (${jobId}, ${expected.state}, ${next.state}, ${next.detail})`
          }
          if (next.state === "delivered") yield* ledger.captureReservation(jobId)
          return rows
        }).pipe(sql.withTransaction)
      const row = updated[0]
      if (row === undefined) return false as const
      return {
        balance: row.credits === undefined
          ? undefined
          : new Balance({ credits: Number(row.credits ?? 0), freeTokens: Number(row.free_tokens ?? 0) })
      }
    })

    /** Polls that found nothing new, many in one statement (./job-poll-writes.ts). */
    const advancePolls = makeAdvancePolls(sql, writingWith)

    /** A checkpoint inside a step that moves no state: message ids, the KIE copy of the photo. */
    const update = Effect.fn("JobRepo.update")(function*(jobId: JobId, changes: JobChanges) {
      yield* sql`UPDATE jobs SET ${sql.update(changes)}, updated_at = CURRENT_TIMESTAMP WHERE id = ${jobId}`
    })

    /** Makes an unfinished job due now, if it is still at `version` (its run was cut off). */
    const release = Effect.fn("JobRepo.release")(function*(jobId: JobId, version: number) {
      const now = Math.floor(yield* Clock.currentTimeMillis)
      yield* sql`UPDATE jobs SET due_at_ms = ${now}, leased_at_ms = NULL
                 WHERE id = ${jobId} AND version = ${version} AND due_at_ms IS NOT NULL`
    })

    /**
     * Ends the leases taken up to `takenByMs`: those jobs are due now. For when a runner is
     * gone (a `kill -9` leaves its steps' leases behind); a lease of a step still running
     * elsewhere costs that job one more wake-up (src/jobs/job-waker.ts says what it may
     * repeat). How many jobs it made due.
     */
    const endLeases = Effect.fn("JobRepo.endLeases")(function*(takenByMs: number) {
      const now = Math.floor(yield* Clock.currentTimeMillis)
      const rows = yield* sql`
        UPDATE jobs SET due_at_ms = ${now}, leased_at_ms = NULL
        WHERE leased_at_ms IS NOT NULL AND leased_at_ms <= ${Math.floor(takenByMs)} AND due_at_ms > ${now}
        RETURNING id`
      return rows.length
    })

    /**
     * A KIE callback for a polling job: the job is due by `byMs` at the latest, so that the
     * callback outlives a runner that dies before the job's run has acted on it (the job's
     * next safety poll can be minutes away). It moves the version too: a poll that read the
     * row before the callback (the waker's, finding the task still at work a moment before it
     * finished) must not write its next due time, minutes away, over this one. A run that
     * reads the row after it writes over it.
     */
    const dueBy = Effect.fn("JobRepo.dueBy")(function*(jobId: JobId, byMs: number) {
      const by = Math.ceil(byMs)
      yield* sql`UPDATE jobs SET version = version + 1,
                                 due_at_ms = CASE WHEN due_at_ms > ${by} THEN ${by} ELSE due_at_ms END
                 WHERE id = ${jobId} AND state = 'polling'`
    })

    /**
     * Keeps the leases of `jobIds` (work for them under way on this runner, outside their
     * runs: src/jobs/photo-uploads.ts) running `leaseMs` from now, as long as they are in one
     * of `states`; in chunks, each one statement.
     */
    const extendLeases = Effect.fn("JobRepo.extendLeases")(
      function*(jobIds: ReadonlyArray<JobId>, states: ReadonlyArray<JobState>, leaseMs: number) {
        const now = Math.floor(yield* Clock.currentTimeMillis)
        for (let from = 0; from < jobIds.length; from += 500) {
          yield* sql`UPDATE jobs SET due_at_ms = ${Math.ceil(now + leaseMs)}, leased_at_ms = ${now}
                     WHERE ${sql.in("id", jobIds.slice(from, from + 500))} AND ${sql.in("state", states)}
                     AND due_at_ms IS NOT NULL`
        }
      }
    )

    /**
     * Claims up to `limit` jobs due by `nowMs`, earliest first: each one's due time moves
     * `leaseMs` ahead, so that the next pass (on any runner) leaves it to the wake-up this
     * claim sends. Postgres skips rows another claim holds; SQLite has one runner. Returns
     * the claimed rows as the claim left them.
     */
    const claimDue = Effect.fn("JobRepo.claimDue")(function*(nowMs: number, leaseMs: number, limit: number) {
      const now = Math.floor(nowMs)
      const lease = Math.ceil(nowMs + leaseMs)
      const due = sql.onDialectOrElse({
        pg: () => sql`SELECT id FROM jobs WHERE due_at_ms <= ${now} ORDER BY due_at_ms LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
        orElse: () => sql`SELECT id FROM jobs WHERE due_at_ms <= ${now} ORDER BY due_at_ms LIMIT ${limit}`
      })
      const rows = yield* sql`UPDATE jobs SET due_at_ms = ${lease}, leased_at_ms = ${now} WHERE id IN (${due}) RETURNING *`
      return yield* Effect.orDie(decodeRecords(rows))
    })

    /**
     * /forget: the user's content in their finished jobs (caption, photo, KIE's copies, failure
     * text) is erased; the rows stay, with their states, costs and dates, for the ledger they
     * explain. Unfinished jobs still need theirs and are only counted.
     */
    const forgetContent = Effect.fn("JobRepo.forgetContent")(function*(userId: UserId) {
      const finished = sql`state IN ('delivered', 'refunded', 'failed')`
      yield* sql`
        UPDATE job_events SET detail = NULL
        WHERE detail IS NOT NULL AND job_id IN (SELECT id FROM jobs WHERE user_id = ${userId} AND ${finished})`
      const erased = yield* sql`
        UPDATE jobs SET prompt = '', photo_file_id = '', kie_file_url = NULL, result_url = NULL, error_detail = NULL
        WHERE user_id = ${userId} AND ${finished}
          AND (prompt <> '' OR photo_file_id <> '' OR kie_file_url IS NOT NULL OR result_url IS NOT NULL
            OR error_detail IS NOT NULL)
        RETURNING id`
      const unfinished = yield* sql<{ n: number | string }>`
        SELECT COUNT(*) AS n FROM jobs WHERE user_id = ${userId} AND state NOT IN ('delivered', 'refunded', 'failed')`
      return { erased: erased.length, unfinished: Number(unfinished[0]?.n ?? 0) }
    })

    return { get, stateOf, advance, advancePolls, update, claimDue, release, endLeases, dueBy, extendLeases, forgetContent } as const
  }),
  dependencies: [CreditLedger.Default]
}) {}
