/**
 * What both intake sources share: which user an update belongs to, the update types the
 * bot asks for, and the hand-over: the updates stored in the inbox (one statement for a
 * whole batch), then their users' entities woken.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Duration, Effect, Option, Queue } from "effect"
import { makeWakeSender } from "../../cluster/remote-wakes.js"
import type { TelegramUpdate } from "../../domain/telegram-update.js"
import { UserEntity } from "../../protocols/user-protocol.js"
import { type InboxRow, TelegramInbox } from "../../storage/telegram-inbox.js"
import { makeLonePhotoAdmission } from "./lone-photos.js"

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

/**
 * Wakes on their way at once. A wake of an entity on this runner returns once it is in the
 * entity's mailbox; one on another runner would return only when that runner has handled
 * it, so it is sent in the background (src/cluster/remote-wakes.ts).
 */
const wakeConcurrency = 64
/** A wake that takes longer is given up; the sweep (./inbox-sweep.ts) tries again. */
const wakeTimeout = Duration.seconds(30)

/**
 * Wakes users' entities to handle their inbox, in the background: the caller goes on at
 * once (the updates are stored already), and a user whose wake still waits its turn is not
 * queued twice. A wake already on its way is not enough for newer rows: the entity may have
 * read its inbox before they were stored, so those get a wake of their own. A wake is
 * volatile and may be lost (a shard moving, a full mailbox, a runner gone): the sweep wakes
 * whoever it missed. A wake that fails or dies costs only itself: a worker that died with
 * it would have stopped every wake after it (seen in the chaos run, with a runner killed).
 * The workers live as long as the scope that made them.
 */
export const makeWakeWith = <E, R>(send: (userId: number) => Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    const queue = yield* Effect.acquireRelease(Queue.unbounded<number>(), Queue.shutdown)
    const queued = new Set<number>()
    const worker = Queue.take(queue).pipe(
      Effect.flatMap((userId) =>
        Effect.sync(() => queued.delete(userId)).pipe(
          Effect.zipRight(send(userId)),
          Effect.timeout(wakeTimeout),
          Effect.catchAllCause((cause) => Effect.logDebug("a wake failed; the inbox sweep wakes the user again", cause))
        )
      ),
      Effect.forever
    )
    for (let i = 0; i < wakeConcurrency; i++) yield* Effect.forkScoped(worker)
    return (userIds: Iterable<number>) =>
      Effect.suspend(() => {
        const fresh: Array<number> = []
        for (const userId of userIds) {
          if (queued.has(userId)) continue
          queued.add(userId)
          fresh.push(userId)
        }
        return Queue.offerAll(queue, fresh)
      }).pipe(Effect.asVoid)
  })

export const makeWake = Effect.gen(function*() {
  const users = yield* UserEntity.client
  const send = yield* makeWakeSender(UserEntity, "wait")
  return yield* makeWakeWith((userId) =>
    send(
      String(userId),
      users(String(userId)).HandleInbox(undefined, { discard: true }),
      (cause) => Effect.logDebug("a wake failed; the inbox sweep wakes the user again", cause)
    )
  )
})

type StoreAndAdmit = (
  updates: ReadonlyArray<TelegramUpdate>,
  rows: ReadonlyArray<InboxRow>,
  nowMs: number
) => Effect.Effect<ReadonlySet<number>, SqlError>

const handOverWith = (storeAndAdmit: StoreAndAdmit) =>
  Effect.map(makeWake, (wake) => (updates: ReadonlyArray<TelegramUpdate>) =>
    Effect.gen(function*() {
      const rows = inboxRowsOf(updates)
      if (rows.length < updates.length) {
        yield* Effect.logDebug(`${updates.length - rows.length} update(s) without a user ignored`)
      }
      const admitted = yield* storeAndAdmit(updates, rows, yield* Clock.currentTimeMillis.pipe(Effect.map(Math.floor)))
      yield* wake(rows.flatMap((row) => admitted.has(row.updateId) ? [] : [row.userId]))
      return rows.length
    }))

/**
 * Stores the updates in the inbox (a replay is stored once, keyed by update_id) and
 * returns once they are committed, their users' wakes queued. Updates without a user are
 * skipped. Returns how many were for a user.
 */
export const makeHandOver = Effect.flatMap(TelegramInbox, (inbox) =>
  handOverWith((_updates, rows, nowMs) => Effect.as(inbox.store(rows, nowMs), new Set<number>())))

/**
 * The poller's hand-over: as `makeHandOver`, and a photo that is its user's only update is
 * admitted in the same commit, its user not woken (./lone-photos.ts).
 */
export const makeHandOverAdmittingLonePhotos = Effect.flatMap(makeLonePhotoAdmission, handOverWith)
