import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { makeOrderedTurn } from "../../src/rate-limits/ordered-turn.js"

/** Forks `count` callers that each take a turn, record it, and wait for `done` to be released. */
const line = (turn: Effect.Effect.Success<ReturnType<typeof makeOrderedTurn>>, count: number) =>
  Effect.gen(function*() {
    const served: Array<number> = []
    const releases = yield* Effect.forEach(Array.from({ length: count }), () => Deferred.make<void>())
    const fibers: Array<Fiber.RuntimeFiber<void>> = []
    for (let i = 0; i < count; i++) {
      fibers.push(yield* Effect.fork(turn.withTurn(Effect.zipRight(Effect.sync(() => served.push(i)), Deferred.await(releases[i]!)))))
      // Each caller is in line before the next arrives.
      yield* Effect.yieldNow()
    }
    return { served, releases, fibers }
  })

const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("OrderedTurn", () => {
  it.effect("serves callers one at a time in arrival order", () =>
    Effect.gen(function*() {
      const turn = yield* makeOrderedTurn()
      const { fibers, releases, served } = yield* line(turn, 5)
      yield* settle
      expect(served).toEqual([0])
      expect(yield* turn.waiting).toBe(4)
      for (let i = 0; i < 5; i++) {
        yield* Deferred.succeed(releases[i]!, undefined)
        yield* settle
        expect(served).toEqual(Array.from({ length: Math.min(i + 2, 5) }, (_, k) => k))
      }
      yield* Effect.forEach(fibers, Fiber.join)
      expect(yield* turn.waiting).toBe(0)
    }))

  it.effect("a caller interrupted while waiting leaves the line without holding it up", () =>
    Effect.gen(function*() {
      const turn = yield* makeOrderedTurn()
      const { fibers, releases, served } = yield* line(turn, 4)
      yield* settle
      yield* Fiber.interrupt(fibers[1]!)
      expect(yield* turn.waiting).toBe(2)
      yield* Deferred.succeed(releases[0]!, undefined)
      yield* settle
      expect(served).toEqual([0, 2])
      yield* Deferred.succeed(releases[2]!, undefined)
      yield* Deferred.succeed(releases[3]!, undefined)
      yield* Fiber.join(fibers[3]!)
      expect(served).toEqual([0, 2, 3])
    }))

  it.effect("a caller interrupted just as its turn comes passes the turn on", () =>
    Effect.gen(function*() {
      const turn = yield* makeOrderedTurn()
      const { fibers, releases, served } = yield* line(turn, 3)
      yield* settle
      // The release hands the turn to caller 1, which is interrupted before it runs.
      yield* Deferred.succeed(releases[0]!, undefined)
      yield* Fiber.interrupt(fibers[1]!)
      yield* settle
      expect(served.at(-1)).toBe(2)
      yield* Deferred.succeed(releases[2]!, undefined)
      yield* Fiber.join(fibers[2]!)
      expect(yield* turn.waiting).toBe(0)
    }))

  it.effect("serves waiters by tier, then key, then arrival; a waiter that left is skipped", () =>
    Effect.gen(function*() {
      const turn = yield* makeOrderedTurn()
      const served: Array<string> = []
      const holder = yield* Deferred.make<void>()
      const first = yield* Effect.fork(turn.withTurn(Deferred.await(holder)))
      yield* settle
      const places = [
        ["late edit", { tier: 1, key: 0 }],
        ["video", { tier: 0, key: 30 }],
        ["answer to an older photo", { tier: 0, key: 5 }],
        ["gone", { tier: 0, key: 1 }],
        ["another edit", { tier: 1, key: 0 }],
        ["answer to a newer photo", { tier: 0, key: 20 }],
        ["second video", { tier: 0, key: 30 }]
      ] as const
      const fibers: Array<Fiber.RuntimeFiber<number>> = []
      for (const [name, place] of places) {
        fibers.push(yield* Effect.fork(turn.withTurn(Effect.sync(() => served.push(name)), place)))
        yield* Effect.yieldNow()
      }
      yield* settle
      yield* Fiber.interrupt(fibers[3]!)
      expect(yield* turn.waiting).toBe(6)
      yield* Deferred.succeed(holder, undefined)
      yield* Fiber.join(first)
      yield* Effect.forEach(fibers.filter((_, i) => i !== 3), Fiber.join)
      expect(served).toEqual([
        "answer to an older photo",
        "answer to a newer photo",
        "video",
        "second video",
        "late edit",
        "another edit"
      ])
      expect(yield* turn.busy).toBe(false)
    }))

  it.effect("with several holders, as many callers hold a turn at once and the rest wait in order", () =>
    Effect.gen(function*() {
      const turn = yield* makeOrderedTurn(3)
      const { fibers, releases, served } = yield* line(turn, 6)
      yield* settle
      expect(served).toEqual([0, 1, 2])
      expect(yield* turn.waiting).toBe(3)
      yield* Deferred.succeed(releases[1]!, undefined)
      yield* settle
      expect(served).toEqual([0, 1, 2, 3])
      yield* Effect.forEach(releases, (release) => Deferred.succeed(release, undefined))
      yield* Effect.forEach(fibers, Fiber.join)
      expect(served).toEqual([0, 1, 2, 3, 4, 5])
      expect(yield* turn.busy).toBe(false)
    }))

  it.effect("holds the line for 10,000 callers and serves each exactly once", () =>
    Effect.gen(function*() {
      const turn = yield* makeOrderedTurn()
      const served: Array<number> = []
      yield* Effect.forEach(
        Array.from({ length: 10_000 }, (_, i) => i),
        (i) => turn.withTurn(Effect.sync(() => served.push(i))),
        { concurrency: "unbounded", discard: true }
      )
      expect(served).toHaveLength(10_000)
      expect(new Set(served).size).toBe(10_000)
      expect(yield* turn.waiting).toBe(0)
    }))
})
