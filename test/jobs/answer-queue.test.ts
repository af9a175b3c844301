/**
 * The queue of answers waiting for Telegram's budget (src/jobs/answer-queue.ts): oldest
 * first, never two of one chat on their way at once, and nothing lost or given twice.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { makeAnswerQueue } from "../../src/jobs/answer-queue.js"

describe("answer queue", () => {
  it.effect("gives the oldest entry first, holds a chat's next entry until its first is done, then gives it in its place", () =>
    Effect.gen(function*() {
      const queue = yield* makeAnswerQueue<string>(() => true)
      queue.push(1, 30, "chat 1, third photo")
      queue.push(1, 10, "chat 1, first photo")
      queue.push(2, 20, "chat 2, second photo")
      queue.push(3, 40, "chat 3, fourth photo")
      const first = yield* queue.take
      assert.deepStrictEqual(first, { chatId: 1, value: "chat 1, first photo" })
      // Chat 1 has an answer on its way: its other one waits aside, the next chats go.
      assert.strictEqual((yield* queue.take).value, "chat 2, second photo")
      assert.strictEqual((yield* queue.take).value, "chat 3, fourth photo")
      const waiting = yield* Effect.fork(queue.take)
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
      queue.done(1)
      assert.strictEqual((yield* Fiber.join(waiting)).value, "chat 1, third photo")
    }))

  it.effect("skips entries no longer live, without holding their chat", () =>
    Effect.gen(function*() {
      const dropped = new Set(["gone"])
      const queue = yield* makeAnswerQueue<string>((value) => !dropped.has(value))
      queue.push(5, 1, "gone")
      queue.push(5, 2, "kept")
      assert.deepStrictEqual(yield* queue.take, { chatId: 5, value: "kept" })
    }))

  it.effect("one user's hundred answers hold one taker: the others' answers still go", () =>
    Effect.gen(function*() {
      const queue = yield* makeAnswerQueue<number>(() => true)
      for (let i = 0; i < 100; i++) queue.push(7, i, i)
      queue.push(8, 500, 500)
      assert.strictEqual((yield* queue.take).chatId, 7)
      assert.deepStrictEqual(yield* queue.take, { chatId: 8, value: 500 })
      const given: Array<number> = []
      for (let i = 0; i < 99; i++) {
        queue.done(7)
        given.push((yield* queue.take).value)
      }
      assert.deepStrictEqual(given, Array.from({ length: 99 }, (_, i) => i + 1))
    }))
  it.effect("a chat's answer put back that is no longer live lets the next one aside go in its place", () =>
    Effect.gen(function*() {
      const dropped = new Set<string>()
      const queue = yield* makeAnswerQueue<string>((value) => !dropped.has(value))
      queue.push(9, 1, "first")
      queue.push(9, 2, "second")
      queue.push(9, 3, "third")
      queue.push(9, 4, "fourth")
      assert.strictEqual((yield* queue.take).value, "first")
      // The others wait aside while the first is on its way (the taker has looked at each
      // and waits); then the second's job ends.
      const next = yield* Effect.fork(queue.take)
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      assert.isTrue(Option.isNone(yield* Fiber.poll(next)))
      dropped.add("second")
      queue.done(9)
      assert.strictEqual((yield* Fiber.join(next)).value, "third")
      queue.done(9)
      assert.strictEqual((yield* queue.take).value, "fourth")
    }))
})
