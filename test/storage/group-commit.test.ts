/**
 * The group commit (src/storage/group-commit.ts): writes that come while one is under way go
 * together in the next one, each caller gets its own answer, and a failed group fails only
 * its own callers.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { makeGroupCommit } from "../../src/storage/group-commit.js"

describe("group commit", () => {
  it.scoped("writes what came while a write was under way in one group, and answers each caller", () =>
    Effect.gen(function*() {
      const groups: Array<ReadonlyArray<number>> = []
      const firstHeld = yield* Deferred.make<void>()
      const write = (items: ReadonlyArray<number>) =>
        Effect.gen(function*() {
          groups.push(items)
          if (groups.length === 1) yield* Deferred.await(firstHeld)
          return items.map((item) => item * 10)
        })
      const commit = yield* makeGroupCommit(write, 4)
      const first = yield* Effect.fork(commit(1))
      while (groups.length === 0) yield* Effect.yieldNow()
      // Six more while the first is written: a group of four (the bound), then the other two.
      const rest = yield* Effect.forEach([2, 3, 4, 5, 6, 7], (item) => Effect.fork(commit(item)))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      assert.deepStrictEqual(groups, [[1]])
      yield* Deferred.succeed(firstHeld, undefined)
      assert.strictEqual(yield* Fiber.join(first), 10)
      assert.deepStrictEqual(yield* Fiber.join(Fiber.all(rest)), [20, 30, 40, 50, 60, 70])
      assert.deepStrictEqual(groups, [[1], [2, 3, 4, 5], [6, 7]])
    }))

  it.scoped("a failed write fails its own group's callers; the next group is written", () =>
    Effect.gen(function*() {
      let calls = 0
      const commit = yield* makeGroupCommit((items: ReadonlyArray<string>) =>
        ++calls === 1 ? Effect.fail("database down" as const) : Effect.succeed(items.map((item) => item.length)), 10)
      const failed = yield* Effect.exit(commit("lost"))
      assert.deepStrictEqual(failed, Exit.fail("database down" as const))
      assert.strictEqual(yield* commit("kept"), 4)
    }))
})
