/**
 * What both intake sources share: which user an update belongs to, the update types the
 * bot asks for, and the hand-over to that user's entity as a persisted message.
 */
import { Effect, Option } from "effect"
import type { TelegramUpdate } from "../../domain/telegram-update.js"
import { UserEntity } from "../../protocols/user-protocol.js"

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

/**
 * Stores the update as a message to its user's entity and returns once it is persisted
 * (keyed by update_id: a replay is stored once). Updates without a user are skipped.
 */
export const makeHandOver = Effect.map(UserEntity.client, (users) => (update: TelegramUpdate) => {
  const user = userOfUpdate(update)
  if (Option.isNone(user)) {
    return Effect.logDebug("update without a user ignored").pipe(
      Effect.annotateLogs({ updateId: update.update_id }),
      Effect.as(false)
    )
  }
  return users(String(user.value)).HandleUpdate({ update }, { discard: true }).pipe(Effect.as(true))
})
