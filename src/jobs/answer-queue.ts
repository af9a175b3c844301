/**
 * The answers waiting for Telegram's budget (./job-acknowledgement.ts), oldest photo first,
 * taken by a few posters with at most one per chat at a time (on this runner). A poster
 * first waits for its chat's own limit (one message a second after a short burst,
 * src/telegram/outgoing-limits.ts): without the cap, a user with many jobs in flight
 * (MAX_JOBS_IN_FLIGHT goes to 100) could hold every poster in their chat's wait while other
 * users' answers found nobody to carry them. A chat's next answers wait aside, and the
 * first of them goes back in its place when the one before is done: one at a time, so a
 * chat with k answers aside costs k returns, not k² pops and wake-ups.
 */
import { Effect, Queue } from "effect"
import { makeBinaryHeap } from "../rate-limits/binary-heap.js"

interface Entry<A> {
  readonly chatId: number
  readonly key: number
  readonly seq: number
  readonly value: A
}

const before = <A>(a: Entry<A>, b: Entry<A>) => a.key !== b.key ? a.key < b.key : a.seq < b.seq

export interface AnswerQueue<A> {
  /** Queues `value` for `chatId` at `key` (lower first, then in arrival order). */
  readonly push: (chatId: number, key: number, value: A) => void
  /** Waits for the first entry still `live` whose chat has no answer on its way; its chat's turn is held until `done`. */
  readonly take: Effect.Effect<{ readonly chatId: number; readonly value: A }>
  /** The chat's answer is sent or given up: its next one may go. */
  readonly done: (chatId: number) => void
}

export const makeAnswerQueue = <A>(live: (value: A) => boolean): Effect.Effect<AnswerQueue<A>> =>
  Effect.map(Queue.unbounded<void>(), (signals) => {
    const heap = makeBinaryHeap<Entry<A>>(before)
    const busyChats = new Set<number>()
    const aside = new Map<number, Array<Entry<A>>>()
    let seq = 0

    // One signal per entry in the heap: a taker takes a signal, then one entry.
    const enqueue = (entry: Entry<A>) => {
      heap.push(entry)
      Queue.unsafeOffer(signals, undefined)
    }

    /** Puts the first of the chat's entries aside back in line. */
    const releaseNext = (chatId: number) => {
      const waiting = aside.get(chatId)
      if (waiting === undefined) return
      let first = 0
      for (let i = 1; i < waiting.length; i++) if (before(waiting[i]!, waiting[first]!)) first = i
      const [next] = waiting.splice(first, 1)
      if (waiting.length === 0) aside.delete(chatId)
      enqueue(next!)
    }

    const take = Effect.gen(function*() {
      while (true) {
        yield* Queue.take(signals)
        const entry = heap.pop()
        if (entry === undefined) continue
        if (!live(entry.value)) {
          // It may have been the one put back for its chat: the next one aside takes its place.
          if (!busyChats.has(entry.chatId)) releaseNext(entry.chatId)
          continue
        }
        if (busyChats.has(entry.chatId)) {
          const waiting = aside.get(entry.chatId)
          if (waiting === undefined) aside.set(entry.chatId, [entry])
          else waiting.push(entry)
          continue
        }
        busyChats.add(entry.chatId)
        return { chatId: entry.chatId, value: entry.value }
      }
    })

    const done = (chatId: number) => {
      busyChats.delete(chatId)
      releaseNext(chatId)
    }

    return {
      push: (chatId, key, value) => enqueue({ chatId, key, seq: seq++, value }),
      take,
      done
    }
  })
