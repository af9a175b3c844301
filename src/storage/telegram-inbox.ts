/**
 * The `telegram_inbox` table: updates stored by the intake and handled by their user's
 * entity. A row is written once (keyed by `update_id`, so a redelivered update adds
 * nothing, handled or not) and marked handled once its handling ended.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import type { UserId } from "../domain/ids.js"

export interface InboxRow {
  readonly updateId: number
  readonly userId: number
  /** The update as Telegram sent it, JSON (which escapes U+0000, so any update is storable text). */
  readonly payload: string
}

export interface PendingUpdate {
  readonly updateId: number
  readonly payload: string
}

interface PendingRow {
  readonly update_id: number | string
  readonly payload: string
}

export const pendingUpdateOf = (row: PendingRow): PendingUpdate => ({ updateId: Number(row.update_id), payload: row.payload })

/**
 * The user's unhandled updates, oldest first: a query of its own here, and a part of the
 * query that loads a user's entity (./user-snapshot.ts), so that an activation's first wake
 * reads its updates and its user in one round trip.
 */
export const pendingUpdatesQuery = (sql: SqlClient.SqlClient, userId: UserId, limit: number) =>
  sql<PendingRow>`SELECT update_id, payload FROM telegram_inbox
      WHERE user_id = ${userId} AND handled_at_ms IS NULL
      ORDER BY update_id LIMIT ${limit}`

export class TelegramInbox extends Effect.Service<TelegramInbox>()("app/TelegramInbox", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** One statement for the whole batch; rows already stored are left as they are. */
    const store = Effect.fn("TelegramInbox.store")(function*(rows: ReadonlyArray<InboxRow>, nowMs: number) {
      if (rows.length === 0) return
      yield* sql`
        INSERT INTO telegram_inbox ${
        sql.insert(rows.map((row) => ({
          update_id: row.updateId,
          user_id: row.userId,
          payload: row.payload,
          received_at_ms: nowMs
        })))
      }
        ON CONFLICT (update_id) DO NOTHING`
    })

    /** The user's unhandled updates, oldest first. */
    const pendingOf = Effect.fn("TelegramInbox.pendingOf")(function*(userId: UserId, limit: number) {
      return (yield* pendingUpdatesQuery(sql, userId, limit)).map(pendingUpdateOf)
    })

    const markHandled = Effect.fn("TelegramInbox.markHandled")(function*(updateId: number, nowMs: number) {
      yield* sql`UPDATE telegram_inbox SET handled_at_ms = ${nowMs} WHERE update_id = ${updateId} AND handled_at_ms IS NULL`
    })

    /** Users with an update stored before `receivedBeforeMs` and still unhandled, and when their oldest was stored. */
    const usersWaiting = Effect.fn("TelegramInbox.usersWaiting")(function*(receivedBeforeMs: number, limit: number) {
      const rows = yield* sql<{ user_id: number | string; oldest: number | string }>`
        SELECT user_id, MIN(received_at_ms) AS oldest FROM telegram_inbox
        WHERE handled_at_ms IS NULL AND received_at_ms < ${receivedBeforeMs}
        GROUP BY user_id
        LIMIT ${limit}`
      return rows.map((row) => ({ userId: Number(row.user_id), oldestReceivedAtMs: Number(row.oldest) }))
    })

    /** How many updates wait to be handled, and when the oldest of them was stored. */
    const backlog = Effect.fn("TelegramInbox.backlog")(function*() {
      const rows = yield* sql<{ n: number | string; oldest: number | string | null }>`
        SELECT COUNT(*) AS n, MIN(received_at_ms) AS oldest FROM telegram_inbox WHERE handled_at_ms IS NULL`
      const oldest = rows[0]?.oldest ?? null
      return { waiting: Number(rows[0]?.n ?? 0), oldestReceivedAtMs: oldest === null ? Option.none() : Option.some(Number(oldest)) }
    })

    return { store, pendingOf, markHandled, usersWaiting, backlog } as const
  })
}) {}
