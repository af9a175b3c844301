/**
 * The intake's wakes (src/telegram/intake/updates.ts): sent in the background, a user queued
 * once while their wake waits its turn, and a wake that fails or dies costs only itself.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { makeWakeWith } from "../../../src/telegram/intake/updates.js"

describe("the intake's wakes", () => {
  it.scoped("a wake that dies or fails stops no other: every user after it is still woken", () =>
    Effect.gen(function*() {
      const woken: Array<number> = []
      const all = yield* Deferred.make<void>()
      const wake = yield* makeWakeWith((userId) =>
        userId < 200 && userId % 2 === 0
          ? Effect.die(new Error("runner unavailable"))
          : userId < 200
          ? Effect.fail("mailbox full")
          : Effect.sync(() => {
            woken.push(userId)
            if (woken.length === 100) Deferred.unsafeDone(all, Effect.void)
          })
      )
      // The failures first, more dying ones than there are workers, and time for them to
      // end their workers if they could.
      yield* wake(Array.from({ length: 200 }, (_, i) => i))
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      yield* wake(Array.from({ length: 100 }, (_, i) => 1_000 + i))
      yield* Deferred.await(all)
      assert.deepStrictEqual([...woken].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => 1_000 + i))
    }))

  it.scoped("a user whose wake waits its turn is queued once; a wake on its way does not absorb a newer one", () =>
    Effect.gen(function*() {
      const sent: Array<number> = []
      const hold = yield* Deferred.make<void>()
      const wake = yield* makeWakeWith((userId) => Effect.sync(() => sent.push(userId)).pipe(Effect.zipRight(Deferred.await(hold))))
      // 64 workers, each held inside the send of one user.
      yield* wake(Array.from({ length: 64 }, (_, i) => i))
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      assert.strictEqual(sent.length, 64)
      // User 99 waits its turn: queued once however often it is woken meanwhile.
      yield* wake([99, 99])
      yield* wake([99])
      // User 0's wake is on its way: a newer one is queued all the same.
      yield* wake([0])
      yield* Deferred.succeed(hold, undefined)
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      assert.deepStrictEqual(sent.slice(64), [99, 0])
    }))
})
