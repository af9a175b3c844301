/**
 * One holder at a time, the others in arrival order; a release wakes the next waiter only.
 *
 * Effect's Semaphore wakes every waiter on each release and all but one go back to sleep.
 * With 10,000 progress messages waiting for Telegram's budget that made ~30 releases a
 * second cost 300,000 wake-ups: the runner's core did nothing else for a minute at a time
 * (bench:inflight). Here a release hands the turn to the next waiter directly.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"

export interface FifoTurn {
  /** Runs `effect` when every earlier caller has had its turn; interrupting a waiter leaves the line. */
  readonly withTurn: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Callers waiting for their turn (the holder not counted). */
  readonly waiting: Effect.Effect<number>
  /** Whether somebody holds the turn or waits for it. */
  readonly busy: Effect.Effect<boolean>
}

export const makeFifoTurn = Effect.sync((): FifoTurn => {
  // A Set keeps insertion order and deletes a waiter that gave up in O(1).
  const line = new Set<Deferred.Deferred<void>>()
  let held = false

  const release = Effect.sync(() => {
    const next = line.values().next()
    if (next.done === true) {
      held = false
      return
    }
    line.delete(next.value)
    Deferred.unsafeDone(next.value, Exit.void)
  })

  return {
    // The bookkeeping runs uninterruptibly and only the waiting itself can be interrupted:
    // an interruption landing between "the turn is mine" and "release is registered" would
    // keep the turn for ever, and every later caller on this runner would wait behind it.
    withTurn: (effect) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          if (!held) {
            held = true
            return Effect.ensuring(restore(effect), release)
          }
          const turn = Deferred.unsafeMake<void>(FiberId.none)
          line.add(turn)
          return restore(Deferred.await(turn)).pipe(
            // Still in line: leave it. Already handed the turn: pass it on, or the line stops.
            Effect.onInterrupt(() => line.delete(turn) ? Effect.void : release),
            Effect.zipRight(Effect.ensuring(restore(effect), release))
          )
        })
      ),
    waiting: Effect.sync(() => line.size),
    busy: Effect.sync(() => held || line.size > 0)
  }
})
