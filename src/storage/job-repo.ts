/**
 * Rows of `jobs` and `job_events`. Every state change is written here, with its event,
 * before the next step of a job starts.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import type { JobId, UserId } from "../domain/ids.js"

export const JobState = Schema.Literal(
  "queued",
  "submitting",
  "polling",
  "delivering",
  "delivered",
  "refunded",
  "failed"
)
export type JobState = typeof JobState.Type

export interface NewJob {
  readonly id: JobId
  readonly userId: UserId
  readonly chatId: number
  readonly requestKey: string
  readonly model: string
  readonly prompt: string
  readonly cost: number
  readonly photoFileId: string
}

export class JobRepo extends Effect.Service<JobRepo>()("app/JobRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const findIdByRequestKey = Effect.fn("JobRepo.findIdByRequestKey")(function*(requestKey: string) {
      const rows = yield* sql<{ id: string }>`SELECT id FROM jobs WHERE request_key = ${requestKey}`
      return Option.map(Option.fromNullable(rows[0]), (row) => row.id as JobId)
    })

    const stateOf = Effect.fn("JobRepo.stateOf")(function*(jobId: JobId) {
      const rows = yield* sql<{ state: JobState }>`SELECT state FROM jobs WHERE id = ${jobId}`
      return Option.map(Option.fromNullable(rows[0]), (row) => row.state)
    })

    const insertQueued = Effect.fn("JobRepo.insertQueued")(function*(job: NewJob) {
      yield* sql`
        INSERT INTO jobs (id, user_id, chat_id, request_key, state, model, prompt, cost, photo_file_id)
        VALUES (${job.id}, ${job.userId}, ${job.chatId}, ${job.requestKey}, 'queued', ${job.model}, ${job.prompt},
                ${job.cost}, ${job.photoFileId})`
      yield* sql`INSERT INTO job_events (job_id, from_state, to_state, detail) VALUES (${job.id}, NULL, 'queued', NULL)`
    })

    const recordEvent = Effect.fn("JobRepo.recordEvent")(
      function*(jobId: JobId, from: JobState | null, to: JobState, detail: string | null) {
        yield* sql`INSERT INTO job_events (job_id, from_state, to_state, detail) VALUES (${jobId}, ${from}, ${to}, ${detail})`
      }
    )

    return { findIdByRequestKey, stateOf, insertQueued, recordEvent } as const
  })
}) {}
