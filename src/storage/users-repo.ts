/**
 * The `users` table: one row per Telegram user the bot has met, created on first contact
 * (an update, a ledger entry or a payment) and never deleted: the ledger and the payments
 * refer to it. /forget erases what it says about the person.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { UserId } from "../domain/ids.js"
import type { UserProfile } from "../domain/user-profile.js"

export class UsersRepo extends Effect.Service<UsersRepo>()("app/UsersRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const ensure = Effect.fn("UsersRepo.ensure")(function*(userId: UserId | number) {
      yield* sql`INSERT INTO users (id) VALUES (${userId}) ON CONFLICT (id) DO NOTHING`
    })

    const saveProfile = Effect.fn("UsersRepo.saveProfile")(function*(userId: UserId, profile: UserProfile) {
      yield* sql`
        INSERT INTO users (id, first_name, username, language)
        VALUES (${userId}, ${profile.firstName ?? null}, ${profile.username ?? null}, ${profile.languageCode ?? null})
        ON CONFLICT (id) DO UPDATE SET
          first_name = COALESCE(excluded.first_name, users.first_name),
          username = COALESCE(excluded.username, users.username),
          language = COALESCE(excluded.language, users.language)`
    })

    const markFreeGranted = Effect.fn("UsersRepo.markFreeGranted")(function*(userId: UserId) {
      yield* sql`UPDATE users SET free_tokens_granted_at = CURRENT_TIMESTAMP WHERE id = ${userId}`
    })

    const exists = Effect.fn("UsersRepo.exists")(function*(userId: UserId) {
      const rows = yield* sql<{ id: number }>`SELECT id FROM users WHERE id = ${userId}`
      return rows.length > 0
    })

    const markBlocked = Effect.fn("UsersRepo.markBlocked")(function*(userId: UserId, blocked: boolean) {
      yield* blocked
        ? sql`UPDATE users SET blocked_at = CURRENT_TIMESTAMP WHERE id = ${userId}`
        : sql`UPDATE users SET blocked_at = NULL WHERE id = ${userId}`
    })

    /** The language code Telegram last reported for the user, if any. */
    const languageOf = Effect.fn("UsersRepo.languageOf")(function*(userId: number) {
      const rows = yield* sql<{ language: string | null }>`SELECT language FROM users WHERE id = ${userId}`
      return rows[0]?.language ?? undefined
    })

    /**
     * Users who have not blocked the bot, by id after `afterId`: a broadcast's recipients, page
     * by page. A user whose data an admin deleted (/forget) asked to be left alone: not one.
     */
    const reachable = Effect.fn("UsersRepo.reachable")(function*(afterId: number, limit: number) {
      const rows = yield* sql<{ id: number | string }>`
        SELECT id FROM users WHERE blocked_at IS NULL AND forgotten_at IS NULL AND id > ${afterId} ORDER BY id LIMIT ${limit}`
      return rows.map((row) => Number(row.id))
    })

    const countReachable = Effect.fn("UsersRepo.countReachable")(function*() {
      const rows = yield* sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM users WHERE blocked_at IS NULL AND forgotten_at IS NULL`
      return Number(rows[0]?.n ?? 0)
    })

    /** /forget: name, username and language erased; whether there was any to erase. */
    const forgetProfile = Effect.fn("UsersRepo.forgetProfile")(function*(userId: UserId) {
      const rows = yield* sql`
        UPDATE users SET first_name = NULL, username = NULL, language = NULL, forgotten_at = CURRENT_TIMESTAMP
        WHERE id = ${userId} AND (first_name IS NOT NULL OR username IS NOT NULL OR language IS NOT NULL)
        RETURNING id`
      if (rows.length === 0) yield* sql`UPDATE users SET forgotten_at = CURRENT_TIMESTAMP WHERE id = ${userId}`
      return rows.length > 0
    })

    return { ensure, saveProfile, markFreeGranted, exists, markBlocked, languageOf, reachable, countReachable, forgetProfile } as const
  })
}) {}
