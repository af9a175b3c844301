/**
 * What both intake sources share: which user an update belongs to, the update types the
 * bot asks for, and the hand-over: the updates stored in the inbox (one statement for a
 * whole batch), then their users' entities woken.
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { TelegramUpdate } from "../../domain/telegram-update.js"
import { UserEntity } from "../../protocols/user-protocol.js"
import { type InboxRow, TelegramInbox } from "../../storage/telegram-inbox.js"

export const allowedUpdates = ["message", "edited_message", "callback_query", "pre_checkout_query", "my_chat_member"] as const

/** The sending user's id; none for channel posts and other updates without a user. */
export const userOfUpdate = (update: Record<string, unknown>): Option.Option<number> => {
  for (const [key, value] of Object.entries(update)) {
    if (key === "update_id" || typeof value !== "object" || value === null) continue
    const from = (value as { from?: { id?: unknown; is_bot?: unknown } }).from
    if (from !== undefined && typeof from.id === "number" && from.is_bot !== true) return Option.some(from.id)
  }
  return Option.none()
}

/** The inbox rows of a batch: one per update with a user, in Telegram's order. */
export const inboxRowsOf = (updates: ReadonlyArray<TelegramUpdate>): ReadonlyArray<InboxRow> =>
  updates.flatMap((update) =>
    Option.match(userOfUpdate(update), {
      onNone: () => [],
      onSome: (userId) => [{ updateId: update.update_id, userId, payload: JSON.stringify(update) }]
    })
  )

/** How many wakes are in flight at once, and how long a batch's wakes may hold up intake. */
const wakeConcurrency = 16
const wakeBudget = Duration.seconds(2)

/**
 * Wakes users' entities to handle their inbox. A wake is volatile and may be lost (a
 * shard moving, a full mailbox): the sweep (./inbox-sweep.ts) wakes whoever it missed.
 */
export const makeWake = Effect.map(UserEntity.client, (users) => (userIds: Iterable<number>) =>
  Effect.forEach(
    new Set(userIds),
    (userId) => users(String(userId)).HandleInbox(undefined, { discard: true }).pipe(Effect.ignore),
    { concurrency: wakeConcurrency, discard: true }
  ).pipe(Effect.timeout(wakeBudget), Effect.ignore))

/**
 * Stores the updates in the inbox (a replay is stored once, keyed by update_id) and
 * returns once they are committed, after waking their users. Updates without a user are
 * skipped. Returns how many were for a user.
 */
export const makeHandOver = Effect.gen(function*() {
  const inbox = yield* TelegramInbox
  const wake = yield* makeWake
  return (updates: ReadonlyArray<TelegramUpdate>) =>
    Effect.gen(function*() {
      const rows = inboxRowsOf(updates)
      if (rows.length < updates.length) {
        yield* Effect.logDebug(`${updates.length - rows.length} update(s) without a user ignored`)
      }
      yield* inbox.store(rows, yield* Clock.currentTimeMillis.pipe(Effect.map(Math.floor)))
      yield* wake(rows.map((row) => row.userId))
      return rows.length
    })
})
