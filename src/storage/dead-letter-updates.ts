/** The `dead_letter_updates` table: updates set aside after their handling kept failing. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { UserId } from "../domain/ids.js"

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

export class DeadLetterUpdates extends Effect.Service<DeadLetterUpdates>()("app/DeadLetterUpdates", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** Once per update: a redelivery after a crash finds the row and adds nothing. */
    const record = Effect.fn("DeadLetterUpdates.record")(function*(update: SetAsideUpdate) {
      yield* sql`
        INSERT INTO dead_letter_updates
          (update_id, user_id, update_kind, failure_class, error_tag, error_code, detail, attempts, payload)
        VALUES (${update.updateId}, ${update.userId}, ${update.updateKind}, ${update.failureClass}, ${update.errorTag},
          ${update.errorCode ?? null}, ${update.detail}, ${update.attempts}, ${update.payload})
        ON CONFLICT (update_id) DO NOTHING`
    })

    /** /forget: a set-aside update is the user's message as sent; returns how many went. */
    const forget = Effect.fn("DeadLetterUpdates.forget")(function*(userId: UserId) {
      const rows = yield* sql`DELETE FROM dead_letter_updates WHERE user_id = ${userId} RETURNING update_id`
      return rows.length
    })

    return { record, forget } as const
  })
}) {}
