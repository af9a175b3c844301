/**
 * The Telegram front's read-only views of the user's jobs: history, the owner and inputs
 * of a job a button points at, how many are unfinished.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import type { JobId, UserId } from "../domain/ids.js"

export interface JobSummary {
  readonly id: string
  readonly userId: number
  readonly state: string
  readonly model: string
  readonly durationSeconds: number
  readonly prompt: string
  readonly photoFileId: string
  readonly kieTaskId: string | null
  readonly outcome: string | null
  readonly createdAt: Date | undefined
}

interface JobRow {
  readonly id: string
  readonly user_id: number | string
  readonly state: string
  readonly model: string
  readonly duration_seconds: number | string
  readonly prompt: string
  readonly photo_file_id: string
  readonly kie_task_id: string | null
  readonly outcome: string | null
  readonly created_at_ms: number | string | null
  readonly created_at: string | Date | null
}

const toDate = (row: JobRow): Date | undefined => {
  if (row.created_at_ms !== null && row.created_at_ms !== undefined) return new Date(Number(row.created_at_ms))
  if (row.created_at === null || row.created_at === undefined) return undefined
  if (row.created_at instanceof Date) return row.created_at
  // SQLite's CURRENT_TIMESTAMP is UTC without a zone.
  const parsed = new Date(/[zZ+]/.test(row.created_at) ? row.created_at : `${row.created_at.replace(" ", "T")}Z`)
  return Number.isNaN(parsed.getTime()) ? undefined : parsed
}

const toSummary = (row: JobRow): JobSummary => ({
  id: row.id,
  userId: Number(row.user_id),
  state: row.state,
  model: row.model,
  durationSeconds: Number(row.duration_seconds),
  prompt: row.prompt,
  photoFileId: row.photo_file_id,
  kieTaskId: row.kie_task_id,
  outcome: row.outcome,
  createdAt: toDate(row)
})

const jobColumns = "id, user_id, state, model, duration_seconds, prompt, photo_file_id, kie_task_id, outcome, created_at_ms, created_at"

export class BotState extends Effect.Service<BotState>()("app/BotState", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const job = Effect.fn("BotState.job")(function*(jobId: string) {
      const rows = yield* sql<JobRow>`SELECT ${sql.literal(jobColumns)} FROM jobs WHERE id = ${jobId}`
      return Option.map(Option.fromNullable(rows[0]), toSummary)
    })

    const recentJobs = Effect.fn("BotState.recentJobs")(function*(userId: UserId, limit: number) {
      const rows = yield* sql<JobRow>`
        SELECT ${sql.literal(jobColumns)} FROM jobs WHERE user_id = ${userId}
        ORDER BY created_at DESC, created_at_ms DESC LIMIT ${limit}`
      return rows.map(toSummary)
    })

    const jobsInFlight = Effect.fn("BotState.jobsInFlight")(function*(userId: UserId) {
      const rows = yield* sql<{ n: number | string }>`
        SELECT COUNT(*) AS n FROM jobs WHERE user_id = ${userId} AND state NOT IN ('delivered', 'refunded', 'failed')`
      return Number(rows[0]?.n ?? 0)
    })

    /** Whether a job with this request key exists (a redelivered request is not a new one). */
    const requestKnown = Effect.fn("BotState.requestKnown")(function*(requestKey: string) {
      const rows = yield* sql<{ id: string }>`SELECT id FROM jobs WHERE request_key = ${requestKey}`
      return rows.length > 0
    })

    /** The newest job started by a press on `source`'s button, with its creation time. */
    const latestRetryOf = Effect.fn("BotState.latestRetryOf")(function*(source: JobId) {
      const rows = yield* sql<{ id: string; created_at_ms: number | string | null }>`
        SELECT id, created_at_ms FROM jobs WHERE request_key LIKE ${`again:${source}:%`}
        ORDER BY created_at_ms DESC LIMIT 1`
      return Option.map(Option.fromNullable(rows[0]), (row) => ({ id: row.id, createdAtMs: Number(row.created_at_ms ?? 0) }))
    })

    return { job, recentJobs, jobsInFlight, requestKnown, latestRetryOf } as const
  })
}) {}
