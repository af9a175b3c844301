/**
 * The `support_requests` and `support_relays` tables (migration 0011): who is writing to
 * support now, and which admin message stands for which user's request.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import type { UserId } from "../domain/ids.js"

export interface SupportRelay {
  readonly userId: number
  readonly requestKey: string
}

export class SupportRepo extends Effect.Service<SupportRepo>()("app/SupportRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const open = Effect.fn("SupportRepo.open")(function*(userId: UserId, nowMs: number) {
      yield* sql`
        INSERT INTO support_requests (user_id, opened_at_ms) VALUES (${userId}, ${nowMs})
        ON CONFLICT (user_id) DO UPDATE SET opened_at_ms = excluded.opened_at_ms`
    })

    const close = Effect.fn("SupportRepo.close")(function*(userId: UserId) {
      yield* sql`DELETE FROM support_requests WHERE user_id = ${userId}`
    })

    /** Whether this admin already has their copy of the request (a retried relay skips them). */
    const relayed = Effect.fn("SupportRepo.relayed")(function*(requestKey: string, adminChatId: number) {
      const rows = yield* sql<{ n: number }>`
        SELECT 1 AS n FROM support_relays WHERE request_key = ${requestKey} AND admin_chat_id = ${adminChatId}`
      return rows.length > 0
    })

    const recordRelay = Effect.fn("SupportRepo.recordRelay")(
      function*(adminChatId: number, adminMessageId: number, relay: SupportRelay) {
        yield* sql`
          INSERT INTO support_relays (admin_chat_id, admin_message_id, user_id, request_key)
          VALUES (${adminChatId}, ${adminMessageId}, ${relay.userId}, ${relay.requestKey})
          ON CONFLICT DO NOTHING`
      }
    )

    /** The request an admin's message stands for, if it is a relayed one. */
    const relayOf = Effect.fn("SupportRepo.relayOf")(function*(adminChatId: number, adminMessageId: number) {
      const rows = yield* sql<{ user_id: number | string; request_key: string }>`
        SELECT user_id, request_key FROM support_relays
        WHERE admin_chat_id = ${adminChatId} AND admin_message_id = ${adminMessageId}`
      return Option.map(Option.fromNullable(rows[0]), (row): SupportRelay => ({
        userId: Number(row.user_id),
        requestKey: row.request_key
      }))
    })

    /** Deletes everything support holds about the user (/forget); returns the rows deleted. */
    const forget = Effect.fn("SupportRepo.forget")(function*(userId: UserId) {
      const requests = yield* sql`DELETE FROM support_requests WHERE user_id = ${userId} RETURNING user_id`
      const relays = yield* sql`DELETE FROM support_relays WHERE user_id = ${userId} RETURNING user_id`
      return requests.length + relays.length
    })

    return { open, close, relayed, recordRelay, relayOf, forget } as const
  })
}) {}
