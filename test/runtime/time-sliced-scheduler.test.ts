/**
 * The runner's fiber scheduler (src/runtime/time-sliced-scheduler.ts): steps run in the order
 * they were scheduled, urgent ones first; after a slice of work the event loop gets a turn
 * before the rest, and the drains of one turn share that slice; a step that throws costs no
 * other step; and Effect programs run on it as on the default one.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { TimeSlicedScheduler, urgentPriority } from "../../src/runtime/time-sliced-scheduler.js"

/** Work that takes at least `ms` of the event loop. */
const busy = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // spinning on purpose: the slice is measured in work done
  }
}

const drained = (scheduler: TimeSlicedScheduler) =>
  new Promise<void>((resolve) => scheduler.scheduleTask(resolve, 0))

describe("the time-sliced scheduler", () => {
  it("runs steps in the order they came, urgent ones before those already waiting", async () => {
    const scheduler = new TimeSlicedScheduler(1_000)
    const ran: Array<string> = []
    scheduler.scheduleTask(() => {
      ran.push("a")
      scheduler.scheduleTask(() => ran.push("urgent"), urgentPriority)
    }, 0)
    scheduler.scheduleTask(() => ran.push("b"), 0)
    scheduler.scheduleTask(() => ran.push("c"), 0)
    await drained(scheduler)
    assert.deepStrictEqual(ran, ["a", "urgent", "b", "c"])
  })

  it("gives the event loop a turn once a slice of work has run, then goes on", async () => {
    const scheduler = new TimeSlicedScheduler(5)
    const ran: Array<string> = []
    // 64 steps of 1 ms each: more than a slice of 5 ms, whatever the machine's speed.
    for (let i = 0; i < 64; i++) {
      scheduler.scheduleTask(() => {
        busy(1)
        ran.push(`step ${i}`)
      }, 0)
    }
    setImmediate(() => ran.push("event loop"))
    await drained(scheduler)
    const turn = ran.indexOf("event loop")
    assert.isAbove(turn, 0)
    assert.isBelow(turn, 64)
    assert.deepStrictEqual(ran.filter((entry) => entry !== "event loop"), Array.from({ length: 64 }, (_, i) => `step ${i}`))
  })

  it("drains within one turn of the event loop share one slice: once it is used, the next steps wait for the loop", async () => {
    const scheduler = new TimeSlicedScheduler(5)
    const ran: Array<string> = []
    // As a socket read would: a step whose drain empties the queue, in a microtask.
    scheduler.scheduleTask(() => {
      busy(6)
      ran.push("a")
    }, 0)
    await Promise.resolve()
    assert.deepStrictEqual(ran, ["a"])
    // The next read of the same turn: its steps wait until the loop has had its turn.
    setImmediate(() => ran.push("event loop"))
    scheduler.scheduleTask(() => ran.push("b"), 0)
    await drained(scheduler)
    assert.deepStrictEqual(ran, ["a", "event loop", "b"])
    // The turn after starts with the whole slice: a short step runs in a microtask again.
    setImmediate(() => ran.push("event loop again"))
    scheduler.scheduleTask(() => ran.push("c"), 0)
    await Promise.resolve()
    assert.deepStrictEqual(ran.slice(3), ["c"])
  })

  it("a step that throws loses no other step and runs none twice", async () => {
    const scheduler = new TimeSlicedScheduler(1_000)
    const ran: Array<number> = []
    for (let i = 0; i < 5; i++) {
      scheduler.scheduleTask(() => {
        ran.push(i)
        if (i === 1) throw new Error("a step that throws")
      }, 0)
    }
    // The drain the first step queued has not run yet: run it here, where the error lands.
    assert.throws(() => (scheduler as unknown as { drainNow: () => void }).drainNow(), "a step that throws")
    assert.deepStrictEqual(ran, [0, 1])
    scheduler.scheduleTask(() => ran.push(5), 0)
    await drained(scheduler)
    assert.deepStrictEqual(ran, [0, 1, 2, 3, 4, 5])
  })

  it("runs Effect programs: forks, sleeps, deferreds and interruptions all end", async () => {
    const scheduler = new TimeSlicedScheduler(2)
    const program = Effect.gen(function*() {
      const gate = yield* Deferred.make<number>()
      const waiters = yield* Effect.forEach(
        Array.from({ length: 500 }, (_, i) => i),
        (i) => Effect.fork(Effect.map(Deferred.await(gate), (n) => n + i)),
        { concurrency: "unbounded" }
      )
      const sleeper = yield* Effect.fork(Effect.never)
      yield* Effect.sleep("5 millis")
      yield* Deferred.succeed(gate, 1)
      const sums = yield* Effect.forEach(waiters, Fiber.join)
      yield* Fiber.interrupt(sleeper)
      return sums.reduce((a, b) => a + b, 0)
    })
    const total = await Effect.runPromise(Effect.withScheduler(program, scheduler))
    assert.strictEqual(total, 500 + (499 * 500) / 2)
  })
})
