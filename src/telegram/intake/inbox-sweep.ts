/**
 * The inbox's safety net, one runner at a time (a cluster Singleton): every few seconds it
 * wakes the entity of every user with an update stored a while ago and still unhandled.
 * That covers a wake lost on its way (a shard moving, a full mailbox), a runner that died
 * while it handled an update, and an entity that died of an outage in the middle of its
 * inbox. The entity handles its rows in update_id order whoever wakes it, and a wake with
 * nothing left to do costs one read.
 */
import { Singleton } from "@effect/cluster"
import { Cause, Clock, Duration, Effect } from "effect"
import { TelegramInbox } from "../../storage/telegram-inbox.js"
import { makeWake } from "./updates.js"

/** An update younger than this is still in the hands of its own wake. */
export const sweepAge = Duration.seconds(10)
export const sweepInterval = Duration.seconds(5)
/** Users woken per pass; a larger backlog takes a few passes. */
const sweepBatch = 1_000

/**
 * The sweep's pass: wakes the users with an update older than `sweepAge` still unhandled
 * and returns how many. Made once per sweeper: the wakes' workers live in its scope.
 */
export const makeSweep = Effect.gen(function*() {
  const inbox = yield* TelegramInbox
  const wake = yield* makeWake
  return Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const users = yield* inbox.usersWaiting(Math.floor(now - Duration.toMillis(sweepAge)), sweepBatch)
    if (users.length > 0) {
      yield* Effect.logInfo(`inbox sweep: waking ${users.length} user(s) with updates left unhandled`)
      yield* wake(users)
    }
    return users.length
  })
})

export const InboxSweepLive = Singleton.make(
  "telegram-inbox-sweep",
  Effect.gen(function*() {
    const sweepOnce = yield* makeSweep
    // A failed pass (the database away for a moment) is logged; the singleton must not end.
    while (true) {
      yield* sweepOnce.pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("inbox sweep failed", cause)
        )
      )
      yield* Effect.sleep(sweepInterval)
    }
  }).pipe(Effect.provide(TelegramInbox.Default))
)
