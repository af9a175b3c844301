/**
 * What reconciliation keeps between passes: where each check stopped (a cursor), when each
 * disagreement was last reported, and the ledger's paid grants read in id order.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"

export interface Cursor {
  readonly position: number
  /** Names what sits just before `position`, so a pass can tell that the list moved. */
  readonly marker: string | undefined
}

/** A paid grant in the ledger, with the payment row it names when there is one. */
export interface PaidGrant {
  readonly ledgerId: number
  readonly userId: number
  readonly paymentId: string | null
  readonly credits: number
  readonly payment: Option.Option<{ readonly userId: number; readonly credits: number }>
}

export class ReconciliationStore extends Effect.Service<ReconciliationStore>()("app/ReconciliationStore", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const cursor = Effect.fn("ReconciliationStore.cursor")(function*(name: string) {
      const rows = yield* sql<{ position: unknown; marker: string | null }>`
        SELECT position, marker FROM reconciliation_cursors WHERE name = ${name}`
      return Option.map(Option.fromNullable(rows[0]), (row): Cursor => ({
        position: Number(row.position),
        marker: row.marker ?? undefined
      }))
    })

    const saveCursor = Effect.fn("ReconciliationStore.saveCursor")(function*(name: string, to: Cursor) {
      yield* sql`
        INSERT INTO reconciliation_cursors (name, position, marker) VALUES (${name}, ${to.position}, ${to.marker ?? null})
        ON CONFLICT (name) DO UPDATE SET position = excluded.position, marker = excluded.marker`
    })

    /**
     * Claims the right to report `key` at `now` (epoch ms): true the first time, and again
     * once `every` ms have passed since the last report. One statement, so two passes that
     * overlap (a singleton moving between runners) cannot both report it.
     */
    const claimAlert = Effect.fn("ReconciliationStore.claimAlert")(function*(key: string, now: number, every: number) {
      const rows = yield* sql`
        INSERT INTO reconciliation_alerts (alert_key, last_alerted_at) VALUES (${key}, ${now})
        ON CONFLICT (alert_key) DO UPDATE SET last_alerted_at = excluded.last_alerted_at
        WHERE reconciliation_alerts.last_alerted_at <= ${now - every}
        RETURNING alert_key`
      return rows.length > 0
    })

    /** Up to `limit` paid grants with a ledger id above `afterId`, oldest first. */
    const paidGrants = Effect.fn("ReconciliationStore.paidGrants")(function*(afterId: number, limit: number) {
      const rows = yield* sql<{
        id: unknown
        user_id: unknown
        payment_id: string | null
        delta_credits: unknown
        payment_user_id: unknown
        payment_credits: unknown
      }>`
        SELECT l.id, l.user_id, l.payment_id, l.delta_credits,
               p.user_id AS payment_user_id, p.credits AS payment_credits
        FROM credit_ledger l
        LEFT JOIN payments p ON p.telegram_payment_charge_id = l.payment_id
        WHERE l.kind = 'grant' AND l.id > ${afterId}
        ORDER BY l.id
        LIMIT ${limit}`
      return rows.map((row): PaidGrant => ({
        ledgerId: Number(row.id),
        userId: Number(row.user_id),
        paymentId: row.payment_id,
        credits: Number(row.delta_credits),
        payment: row.payment_user_id === null || row.payment_user_id === undefined
          ? Option.none()
          : Option.some({ userId: Number(row.payment_user_id), credits: Number(row.payment_credits) })
      }))
    })

    return { cursor, saveCursor, claimAlert, paidGrants } as const
  })
}) {}
