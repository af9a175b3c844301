/**
 * What the Telegram front reads and writes besides money and jobs: the poller's stored
 * offset, each user's settings, read-only views of the user's jobs (history, the owner and
 * inputs of a job a button points at), and the updates it had to set aside.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import type { JobId, UserId } from "../domain/ids.js"

export interface UserSettings {
  readonly model: string
  readonly durationSeconds: number
}

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

/** An update whose handling kept failing, as recorded in `dead_letter_updates`. */
export interface SetAsideUpdate {
  readonly updateId: number
  readonly userId: UserId
  readonly updateKind: string
  readonly failureClass: "deterministic" | "unknown"
  readonly errorTag: string
  readonly errorCode: string | undefined
  readonly detail: string
  readonly attempts: number
  /** The update as received, JSON. */
  readonly payload: string
}

const jobColumns = "id, user_id, state, model, duration_seconds, prompt, photo_file_id, kie_task_id, outcome, created_at_ms, created_at"

export class BotState extends Effect.Service<BotState>()("app/BotState", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const offsetOf = Effect.fn("BotState.offsetOf")(function*(botId: number) {
      const rows = yield* sql<{ next_offset: number | string }>`SELECT next_offset FROM telegram_offsets WHERE bot_id = ${botId}`
      return Option.map(Option.fromNullable(rows[0]), (row) => Number(row.next_offset))
    })

    /** Only moves forward: a stale poller cannot take the offset back. */
    const saveOffset = Effect.fn("BotState.saveOffset")(function*(botId: number, nextOffset: number) {
      yield* sql`
        INSERT INTO telegram_offsets (bot_id, next_offset) VALUES (${botId}, ${nextOffset})
        ON CONFLICT (bot_id) DO UPDATE SET next_offset = excluded.next_offset, updated_at = CURRENT_TIMESTAMP
        WHERE telegram_offsets.next_offset < excluded.next_offset`
    })

    const settingsOf = Effect.fn("BotState.settingsOf")(function*(userId: UserId) {
      const rows = yield* sql<{ model: string; duration_seconds: number | string }>`
        SELECT model, duration_seconds FROM user_settings WHERE user_id = ${userId}`
      return Option.map(
        Option.fromNullable(rows[0]),
        (row): UserSettings => ({ model: row.model, durationSeconds: Number(row.duration_seconds) })
      )
    })

    const saveSettings = Effect.fn("BotState.saveSettings")(function*(userId: UserId, settings: UserSettings) {
      yield* sql`
        INSERT INTO user_settings (user_id, model, duration_seconds)
        VALUES (${userId}, ${settings.model}, ${settings.durationSeconds})
        ON CONFLICT (user_id) DO UPDATE SET model = excluded.model, duration_seconds = excluded.duration_seconds,
          updated_at = CURRENT_TIMESTAMP`
    })

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

    const userExists = Effect.fn("BotState.userExists")(function*(userId: UserId) {
      const rows = yield* sql<{ id: number }>`SELECT id FROM users WHERE id = ${userId}`
      return rows.length > 0
    })

    const markBlocked = Effect.fn("BotState.markBlocked")(function*(userId: UserId, blocked: boolean) {
      yield* blocked
        ? sql`UPDATE users SET blocked_at = CURRENT_TIMESTAMP WHERE id = ${userId}`
        : sql`UPDATE users SET blocked_at = NULL WHERE id = ${userId}`
    })

    /** Once per update: a redelivery after a crash finds the row and adds nothing. */
    const setAside = Effect.fn("BotState.setAside")(function*(update: SetAsideUpdate) {
      yield* sql`
        INSERT INTO dead_letter_updates
          (update_id, user_id, update_kind, failure_class, error_tag, error_code, detail, attempts, payload)
        VALUES (${update.updateId}, ${update.userId}, ${update.updateKind}, ${update.failureClass}, ${update.errorTag},
          ${update.errorCode ?? null}, ${update.detail}, ${update.attempts}, ${update.payload})
        ON CONFLICT (update_id) DO NOTHING`
    })

    return {
      offsetOf,
      saveOffset,
      settingsOf,
      saveSettings,
      job,
      recentJobs,
      jobsInFlight,
      requestKnown,
      latestRetryOf,
      userExists,
      markBlocked,
      setAside
    } as const
  })
}) {}
