/**
 * What a user's entity loads in one query: everything a photo's handling reads about its
 * user (src/users/user-state.ts), with the user's waiting updates when the load is a wake's.
 * The poller reads many users' at once for the photos it admits itself
 * (src/telegram/intake/lone-photos.ts).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { Balance } from "../domain/balance.js"
import type { UserId } from "../domain/ids.js"
import type { UserProfile } from "../domain/user-profile.js"
import type { ChosenSettings } from "../domain/user-settings.js"
import { pendingUpdateOf, pendingUpdatesQuery } from "./telegram-inbox.js"
import { UserSettings } from "./user-settings-repo.js"

interface SnapshotRow {
  readonly id: number | string | null
  readonly first_name: string | null
  readonly username: string | null
  readonly language: string | null
  readonly granted: number | boolean
  readonly credits: number | string | null
  readonly free_tokens: number | string | null
  readonly model: string | null
  readonly duration_seconds: number | string | null
  readonly opened_at_ms: number | string | null
}

interface UserSnapshot {
  readonly known: boolean
  readonly freeGranted: boolean
  readonly profile: UserProfile
  readonly balance: Balance
  /** The /settings choice (./user-settings-repo.ts); none: the defaults. */
  readonly settings: Option.Option<ChosenSettings>
  /** When the user's support request was opened (./support-repo.ts), if one is open. */
  readonly supportOpenedAtMs: Option.Option<number>
}

export class UserSnapshots extends Effect.Service<UserSnapshots>()("app/UserSnapshots", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const snapshotOf = (row: SnapshotRow) =>
      Effect.gen(function*() {
        const settings: Option.Option<ChosenSettings> = row.model === null
          ? Option.none()
          : Option.some(yield* Effect.orDie(Schema.decodeUnknown(UserSettings)(row)))
        // A user not yet written reads as NULLs throughout: nothing granted, no profile, no balance.
        return {
          known: row.id !== null,
          freeGranted: Number(row.granted) === 1,
          profile: {
            ...(row.first_name === null ? {} : { firstName: row.first_name }),
            ...(row.username === null ? {} : { username: row.username }),
            ...(row.language === null ? {} : { languageCode: row.language })
          },
          balance: new Balance({ credits: Number(row.credits ?? 0), freeTokens: Number(row.free_tokens ?? 0) }),
          settings,
          supportOpenedAtMs: row.opened_at_ms === null ? Option.none() : Option.some(Number(row.opened_at_ms))
        } satisfies UserSnapshot
      })

    const snapshotColumns = sql`u.id, u.first_name, u.username, u.language,
               CASE WHEN u.free_tokens_granted_at IS NULL THEN 0 ELSE 1 END AS granted,
               b.credits, b.free_tokens, s.model, s.duration_seconds, r.opened_at_ms`
    const snapshotTables = (userId: UserId) =>
      sql`(SELECT CAST(${userId} AS BIGINT) AS id) k
        LEFT JOIN users u ON u.id = k.id
        LEFT JOIN balances b ON b.user_id = k.id
        LEFT JOIN user_settings s ON s.user_id = k.id
        LEFT JOIN support_requests r ON r.user_id = k.id`

    const of = Effect.fn("UserSnapshots.of")(function*(userId: UserId) {
      const rows = yield* sql<SnapshotRow>`SELECT ${snapshotColumns} FROM ${snapshotTables(userId)}`
      return yield* snapshotOf(rows[0]!)
    })

    /**
     * The snapshot and the user's first `limit` unhandled updates, oldest first: what the
     * first wake of an activation reads, in one round trip instead of two. One row per
     * update, each repeating the user's columns (a few, and `limit` is small); one row with
     * no update when none waits.
     */
    const withPendingUpdates = Effect.fn("UserSnapshots.withPendingUpdates")(function*(userId: UserId, limit: number) {
      const rows = yield* sql<SnapshotRow & { update_id: number | string | null; payload: string | null }>`
        SELECT ${snapshotColumns}, i.update_id, i.payload
        FROM ${snapshotTables(userId)}
        LEFT JOIN (${pendingUpdatesQuery(sql, userId, limit)}) i ON 1 = 1
        ORDER BY i.update_id`
      const pending = rows.flatMap((row) =>
        row.update_id === null || row.payload === null ? [] : [pendingUpdateOf({ update_id: row.update_id, payload: row.payload })]
      )
      return { snapshot: yield* snapshotOf(rows[0]!), pending }
    })

    /**
     * The snapshots of many users in one query, each with whether an update of theirs waits
     * unhandled in the inbox: what the poller reads for a batch's lone photos
     * (src/telegram/intake/lone-photos.ts). A user the database holds nothing of (no profile,
     * no balance, no waiting update) has no entry: a first contact.
     */
    const ofMany = Effect.fn("UserSnapshots.ofMany")(function*(userIds: ReadonlyArray<number>) {
      const found = new Map<number, UserSnapshot & { readonly waiting: boolean }>()
      if (userIds.length === 0) return found
      const rows = yield* sql<SnapshotRow & { key: number | string; waiting: number | boolean }>`
        SELECT k.id AS key, ${snapshotColumns},
               CASE WHEN EXISTS (SELECT 1 FROM telegram_inbox t WHERE t.user_id = k.id AND t.handled_at_ms IS NULL)
                    THEN 1 ELSE 0 END AS waiting
        FROM (SELECT id FROM users WHERE ${sql.in("id", userIds)}
              UNION SELECT user_id AS id FROM balances WHERE ${sql.in("user_id", userIds)}
              UNION SELECT user_id AS id FROM telegram_inbox WHERE handled_at_ms IS NULL AND ${sql.in("user_id", userIds)}) k
        LEFT JOIN users u ON u.id = k.id
        LEFT JOIN balances b ON b.user_id = k.id
        LEFT JOIN user_settings s ON s.user_id = k.id
        LEFT JOIN support_requests r ON r.user_id = k.id`
      for (const row of rows) found.set(Number(row.key), { ...(yield* snapshotOf(row)), waiting: Number(row.waiting) === 1 })
      return found
    })

    return { of, withPendingUpdates, ofMany } as const
  })
}) {}
