/**
 * What reconciliation keeps between passes: where each check stopped (a cursor) and when
 * each disagreement was last reported.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"

export interface Cursor {
  readonly position: number
  /** Names what sits just before `position`, so a pass can tell that the list moved. */
  readonly marker: string | undefined
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

    return { cursor, saveCursor, claimAlert } as const
  })
}) {}
