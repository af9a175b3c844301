/**
 * The bound on background wakes to other runners (src/cluster/remote-wakes.ts): a sender that
 * may wait waits for a slot to free; one that may not (an entity) is told at once that the
 * wake is left to its fallback. The sending itself is covered end to end by
 * test/cluster/remote-job-start.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { makeWakeSlots, remoteWakesAtOnce } from "../../src/cluster/remote-wakes.js"

describe("slots for background wakes", () => {
  it.effect("leave: the slot past the bound is refused at once, and free again once one ends", () =>
    Effect.gen(function*() {
      const slots = yield* makeWakeSlots("leave")
      for (let i = 0; i < remoteWakesAtOnce; i++) assert.isTrue(yield* slots.take)
      assert.isFalse(yield* slots.take)
      yield* slots.release
      assert.isTrue(yield* slots.take)
      assert.isFalse(yield* slots.take)
    }))

  it.effect("wait: the slot past the bound waits until one ends", () =>
    Effect.gen(function*() {
      const slots = yield* makeWakeSlots("wait")
      for (let i = 0; i < remoteWakesAtOnce; i++) assert.isTrue(yield* slots.take)
      const waiting = yield* Effect.fork(slots.take)
      yield* TestClock.adjust("1 minute")
      assert.isTrue((yield* Fiber.poll(waiting))._tag === "None")
      yield* slots.release
      assert.isTrue(yield* Fiber.join(waiting))
    }))
})
