/**
 * The inbox's safety net, one runner at a time (a cluster Singleton): every few seconds it
 * wakes the entity of every user with an update stored a while ago and still unhandled.
 * That covers a wake lost on its way (a shard moving, a full mailbox), a runner that died
 * while it handled an update, and an entity that died of an outage in the middle of its
 * inbox. The entity handles its rows in update_id order whoever wakes it, and a wake with
 * nothing left to do costs one read.
 *
 * What a wake cannot mend is an entity that never gets to it: one whose handling of an
 * earlier message does not end. The sweep names such users once (a warning per user and
 * episode), so that an operator paged by the UpdatesWaiting alert (docs/prometheus-alerts.yml)
 * knows whom to look at; the runner that hosts the entity holds the fiber that waits.
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
/** A user whose oldest unhandled update is older, though woken every pass, is named in a warning. */
export const stuckAge = Duration.minutes(2)
/** User ids a warning names at most. */
const namedAtMost = 20

/**
 * The sweep's pass: wakes the users with an update older than `sweepAge` still unhandled
 * and returns how many. Made once per sweeper: the wakes' workers live in its scope.
 */
export const makeSweep = Effect.gen(function*() {
  const inbox = yield* TelegramInbox
  const wake = yield* makeWake
  /** Users already named, until their inbox is handled: one warning per user and episode. */
  const named = new Set<number>()
  return Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const waiting = yield* inbox.usersWaiting(Math.floor(now - Duration.toMillis(sweepAge)), sweepBatch)
    if (waiting.length === 0) {
      named.clear()
      return 0
    }
    yield* Effect.logInfo(`inbox sweep: waking ${waiting.length} user(s) with updates left unhandled`)
    yield* wake(waiting.map(({ userId }) => userId))
    const stillWaiting = new Set(waiting.map(({ userId }) => userId))
    for (const userId of named) if (!stillWaiting.has(userId)) named.delete(userId)
    const stuck = waiting.filter(({ oldestReceivedAtMs, userId }) =>
      now - oldestReceivedAtMs >= Duration.toMillis(stuckAge) && !named.has(userId)
    )
    if (stuck.length > 0) {
      for (const { userId } of stuck) named.add(userId)
      const longest = Math.max(...stuck.map(({ oldestReceivedAtMs }) => now - oldestReceivedAtMs))
      yield* Effect.logWarning(
        `inbox sweep: ${stuck.length} user(s) with an update unhandled for over ${Duration.format(stuckAge)} though woken ` +
          `every ${Duration.format(sweepInterval)}: their entity may be held by a message whose handling does not end`
      ).pipe(Effect.annotateLogs({
        users: stuck.slice(0, namedAtMost).map(({ userId }) => userId).join(","),
        longestWaitSeconds: Math.round(longest / 1000)
      }))
    }
    return waiting.length
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
