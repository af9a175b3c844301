/**
 * Up to `holders` callers hold a turn at a time (one by default); the others wait in order
 * of their place (lower `tier` first, then lower `key`, then arrival), and a release wakes
 * the first of them only.
 *
 * Effect's Semaphore (3.22) wakes every waiter on each release; all but one take again,
 * each from inside the wait it was woken from, so a waiter's stack grows by a frame per
 * release it loses. With 10,000 progress messages waiting for Telegram's budget that made
 * ~30 releases a second cost 300,000 wake-ups: the runner's core did nothing else for a
 * minute at a time (bench:inflight); 2,000 photos waiting for a file-transfer permit kept
 * stacks of 2,300 frames and ~450 KB per job. Here a release hands the turn to the next
 * waiter directly, from a heap.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"
import { makeBinaryHeap } from "./binary-heap.js"

/** Where a caller stands in line; callers with equal places are served in arrival order. */
export interface TurnPlace {
  readonly tier: number
  readonly key: number
}

export interface OrderedTurn {
  /** Runs `effect` when every caller placed before it has had its turn; interrupting a waiter leaves the line. */
  readonly withTurn: <A, E, R>(effect: Effect.Effect<A, E, R>, place?: TurnPlace) => Effect.Effect<A, E, R>
  /** Callers waiting for their turn (the holder not counted). */
  readonly waiting: Effect.Effect<number>
  /** Whether somebody holds a turn or waits for one. */
  readonly busy: Effect.Effect<boolean>
  /** Whether a caller now would have its turn at once. */
  readonly free: Effect.Effect<boolean>
}

interface Waiter {
  readonly tier: number
  readonly key: number
  readonly seq: number
  readonly turn: Deferred.Deferred<void>
  /** Handed the turn, or gone: no longer in line. */
  out: boolean
}

const before = (a: Waiter, b: Waiter) =>
  a.tier !== b.tier ? a.tier < b.tier : a.key !== b.key ? a.key < b.key : a.seq < b.seq

const first: TurnPlace = { tier: 0, key: 0 }

export const makeOrderedTurn = (holders = 1) => Effect.sync((): OrderedTurn => {
  // A waiter that gave up stays in the heap, marked out, until it surfaces or the heap is
  // compacted (interrupted waiters are common: an overtaken progress message).
  const heap = makeBinaryHeap(before)
  let waiting = 0
  let seq = 0
  let held = 0

  const compact = () => {
    if (heap.size() < 1024 || heap.size() < 2 * waiting) return
    heap.retain((waiter) => !waiter.out)
  }

  const release = Effect.sync(() => {
    while (true) {
      const next = heap.pop()
      if (next === undefined) {
        held--
        return
      }
      if (next.out) continue
      next.out = true
      waiting--
      Deferred.unsafeDone(next.turn, Exit.void)
      return
    }
  })

  return {
    // The bookkeeping runs uninterruptibly and only the waiting itself can be interrupted:
    // an interruption landing between "the turn is mine" and "release is registered" would
    // keep a turn for ever, and every later caller on this runner would wait behind it.
    withTurn: (effect, place = first) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          if (held < holders) {
            held++
            return Effect.ensuring(restore(effect), release)
          }
          const waiter: Waiter = { tier: place.tier, key: place.key, seq: seq++, turn: Deferred.unsafeMake<void>(FiberId.none), out: false }
          heap.push(waiter)
          waiting++
          return restore(Deferred.await(waiter.turn)).pipe(
            // Still in line: leave it. Already handed the turn: pass it on, or the line stops.
            Effect.onInterrupt(() =>
              Effect.suspend(() => {
                if (!waiter.out) {
                  waiter.out = true
                  waiting--
                  compact()
                  return Effect.void
                }
                return release
              })
            ),
            Effect.zipRight(Effect.ensuring(restore(effect), release))
          )
        })
      ),
    waiting: Effect.sync(() => waiting),
    busy: Effect.sync(() => held > 0 || waiting > 0),
    free: Effect.sync(() => held < holders)
  }
})
