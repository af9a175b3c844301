/**
 * Rows of `jobs` and `job_events`. Every step of a job is written here, with its event and
 * the time the job is next due, before the next step starts; each write names the version
 * it read and bumps it, so a stale writer (a second wake-up, another runner) changes nothing.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Option, Schema } from "effect"
import type { JobId, UserId } from "../domain/ids.js"
import { JobState } from "../domain/job-state.js"
import { CreditLedger } from "./credit-ledger.js"

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
}

/**
 * A new job is run by its persisted Start; the waker (src/jobs/job-waker.ts) looks at it
 * only if that has not moved it within this time.
 */
const startGraceMs = 60_000

/** When a new job is first due (src/storage/admission.ts inserts jobs too). */
export const firstDueAt = (createdAtMs: number) => Math.ceil(createdAtMs + startGraceMs)

const nullableNumber = Schema.NullOr(Schema.Union(Schema.Number, Schema.NumberFromString))

/** A job as stored; BIGINT columns arrive as strings from Postgres. */
export class JobRecord extends Schema.Class<JobRecord>("JobRecord")({
  id: Schema.String,
  user_id: Schema.Union(Schema.Number, Schema.NumberFromString),
  chat_id: Schema.Union(Schema.Number, Schema.NumberFromString),
  state: JobState,
  model: Schema.String,
  prompt: Schema.String,
  cost: Schema.Number,
  duration_seconds: Schema.Number,
  photo_file_id: Schema.String,
  language: Schema.NullOr(Schema.String),
  kie_task_id: Schema.NullOr(Schema.String),
  attempts: Schema.Number,
  result_url: Schema.NullOr(Schema.String),
  error_class: Schema.NullOr(Schema.String),
  error_detail: Schema.NullOr(Schema.String),
  progress_message_id: nullableNumber,
  created_at_ms: nullableNumber,
  poll_deadline_ms: nullableNumber,
  kie_succeeded_at_ms: nullableNumber,
  video_message_id: nullableNumber,
  outcome: Schema.NullOr(Schema.Literal("deliver", "refund")),
  version: Schema.Union(Schema.Number, Schema.NumberFromString),
  due_at_ms: nullableNumber,
  polls: Schema.Number,
  failed_polls: Schema.Number,
  paused: Schema.Number,
  progress_at_ms: nullableNumber
}) {}

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

const decodeRecord = Schema.decodeUnknown(JobRecord)

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

    const get = Effect.fn("JobRepo.get")(function*(jobId: JobId) {
      const rows = yield* sql`SELECT * FROM jobs WHERE id = ${jobId}`
      if (rows.length === 0) return Option.none<JobRecord>()
      return Option.some(yield* Effect.orDie(decodeRecord(rows[0])))
    })

    const stateOf = Effect.fn("JobRepo.stateOf")(function*(jobId: JobId) {
      const rows = yield* sql<{ state: JobState }>`SELECT state FROM jobs WHERE id = ${jobId}`
      return Option.map(Option.fromNullable(rows[0]), (row) => row.state)
    })

    const insertQueued = Effect.fn("JobRepo.insertQueued")(function*(job: NewJob) {
      yield* sql`
        INSERT INTO jobs (id, user_id, chat_id, request_key, state, model, prompt, cost, duration_seconds, photo_file_id,
                          language, created_at_ms, due_at_ms)
        VALUES (${job.id}, ${job.userId}, ${job.chatId}, ${job.requestKey}, 'queued', ${job.model}, ${job.prompt},
                ${job.cost}, ${job.durationSeconds}, ${job.photoFileId}, ${job.language ?? null}, ${job.createdAtMs},
                ${firstDueAt(job.createdAtMs)})`
      yield* sql`INSERT INTO job_events (job_id, from_state, to_state, detail) VALUES (${job.id}, NULL, 'queued', NULL)`
    })

    /**
     * One step's write: the next state and the time the job is next due (null when it is
     * finished), only if the row is still at `version`; false when it is not (nothing
     * written). A delivered job's capture is written with it, in the same transaction: a
     * capture changes no balance, only marks the reservation spent (the ledger keeps one
     * settlement per job).
     */
    const advance = Effect.fn("JobRepo.advance")(
      function*(jobId: JobId, expected: { readonly version: number; readonly state: JobState }, next: {
        readonly state: JobState
        readonly changes: JobChanges
        readonly dueAtMs: number | null
        readonly detail: string | null
      }) {
        const delivered = next.state === "delivered" ? sql`, delivered_at = CURRENT_TIMESTAMP` : sql``
        const set = Object.keys(next.changes).length > 0 ? sql`, ${sql.update(next.changes)}` : sql``
        const due = next.dueAtMs === null ? null : Math.ceil(next.dueAtMs)
        const updated = yield* sql`
          UPDATE jobs SET state = ${next.state}, version = version + 1, due_at_ms = ${due},
                          updated_at = CURRENT_TIMESTAMP ${delivered} ${set}
          WHERE id = ${jobId} AND version = ${expected.version}
          RETURNING id`
        if (updated.length === 0) return false
        if (next.state !== expected.state) {
          yield* sql`INSERT INTO job_events (job_id, from_state, to_state, detail)
                     VALUES (${jobId}, ${expected.state}, ${next.state}, ${next.detail})`
        }
        if (next.state === "delivered") yield* ledger.captureReservation(jobId)
        return true
      },
      sql.withTransaction
    )

    /** A checkpoint inside a step that moves no state: message ids, the KIE copy of the photo. */
    const update = Effect.fn("JobRepo.update")(function*(jobId: JobId, changes: JobChanges) {
      yield* sql`UPDATE jobs SET ${sql.update(changes)}, updated_at = CURRENT_TIMESTAMP WHERE id = ${jobId}`
    })

    /** The KIE copy of this user's photo from a job created since `sinceMs`, if any. */
    const recentUploadOf = Effect.fn("JobRepo.recentUploadOf")(
      function*(userId: number, photoFileId: string, sinceMs: number) {
        const rows = yield* sql<{ kie_file_url: string }>`
          SELECT kie_file_url FROM jobs
          WHERE user_id = ${userId} AND photo_file_id = ${photoFileId} AND kie_file_url IS NOT NULL
            AND created_at_ms >= ${sinceMs}
          ORDER BY created_at_ms DESC LIMIT 1`
        return Option.map(Option.fromNullable(rows[0]), (row) => row.kie_file_url)
      }
    )

    /** Makes an unfinished job due now, if it is still at `version` (its run was cut off). */
    const release = Effect.fn("JobRepo.release")(function*(jobId: JobId, version: number) {
      const now = Math.floor(yield* Clock.currentTimeMillis)
      yield* sql`UPDATE jobs SET due_at_ms = ${now} WHERE id = ${jobId} AND version = ${version} AND due_at_ms IS NOT NULL`
    })

    /**
     * Claims up to `limit` jobs due by `nowMs`, earliest first: each one's due time moves
     * `leaseMs` ahead, so that the next pass (on any runner) leaves it to the wake-up this
     * claim sends. Postgres skips rows another claim holds; SQLite has one runner.
     */
    const claimDue = Effect.fn("JobRepo.claimDue")(function*(nowMs: number, leaseMs: number, limit: number) {
      const now = Math.floor(nowMs)
      const lease = Math.ceil(nowMs + leaseMs)
      const due = sql.onDialectOrElse({
        pg: () => sql`SELECT id FROM jobs WHERE due_at_ms <= ${now} ORDER BY due_at_ms LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
        orElse: () => sql`SELECT id FROM jobs WHERE due_at_ms <= ${now} ORDER BY due_at_ms LIMIT ${limit}`
      })
      const rows = yield* sql<{ id: string }>`UPDATE jobs SET due_at_ms = ${lease} WHERE id IN (${due}) RETURNING id`
      return rows.map((row) => row.id as JobId)
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

    return { get, stateOf, insertQueued, advance, update, recentUploadOf, claimDue, release, forgetContent } as const
  }),
  dependencies: [CreditLedger.Default]
}) {}
