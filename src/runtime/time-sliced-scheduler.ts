/**
 * An Effect scheduler that gives the event loop a turn every few milliseconds of fiber work.
 *
 * Effect's default scheduler runs each fiber's steps in microtasks and lets the event loop
 * turn only after 2,048 drains of one fiber in a row. Under a burst one read from a socket
 * resumes thousands of fibers, each a short chain, and together they held the loop for
 * 500-650 ms at a time (BENCHMARKS.md): timers, socket reads and HTTP requests all waited.
 * Here every fiber's steps go into one queue, drained in microtasks until `sliceMs` of work
 * has run, then continued after `setImmediate`, so I/O and timers get their turn in between.
 *
 * The slice is a budget per turn of the event loop, not per drain. In one turn Node reads
 * every socket that is ready and runs the microtasks after each read; a drain that empties
 * the queue after each of a hundred reads (a pg answer, an HTTP response) would take a few
 * milliseconds each time and hold the loop for hundreds (BENCHMARKS.md). Once a turn's
 * drains have used the slice, new steps wait for the `setImmediate` drain; that drain opens
 * the next turn's budget.
 *
 * Steps of a fiber running at a negative scheduling priority go first
 * (`Effect.withSchedulingPriority`): a Telegram call that has its place under the send
 * limits must go out now, not after thousands of queued steps (src/telegram/gateway-live.ts).
 */
import type { Fiber, Scheduler } from "effect"
import { FiberRef } from "effect"

/** Fiber work between two turns of the event loop: the event-loop p99 the runner aims at is 100 ms. */
export const schedulerSliceMs = 10

/** The priority of steps that go before the others' (see above). */
export const urgentPriority = -1

export class TimeSlicedScheduler implements Scheduler.Scheduler {
  private urgent: Array<Scheduler.Task> = []
  private normal: Array<Scheduler.Task> = []
  private scheduled = false
  /** Work run in microtask drains since the last `setImmediate` drain (ms): this turn's share of the slice. */
  private spentThisTurn = 0

  constructor(readonly sliceMs: number) {}

  /** As Effect's default: a fiber that ran this many operations in a row yields. */
  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return fiber.currentOpCount > fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)
      ? fiber.getFiberRef(FiberRef.currentSchedulingPriority)
      : false
  }

  scheduleTask(task: Scheduler.Task, priority: number): void {
    if (priority < 0) this.urgent.push(task)
    else this.normal.push(task)
    if (!this.scheduled) {
      this.scheduled = true
      if (this.spentThisTurn < this.sliceMs) queueMicrotask(this.drainNow)
      else setImmediate(this.drainNextTurn)
    }
  }

  private readonly drainNow = (): void => this.drain(this.spentThisTurn)

  private readonly drainNextTurn = (): void => {
    this.spentThisTurn = 0
    this.drain(0)
  }

  private drain(spentBefore: number): void {
    // `start` as if this turn's earlier drains had run just before: one budget for them all.
    const start = performance.now() - spentBefore
    /** Runs tasks from `batch` until it is done (true) or the slice is over or urgent work came (false); the rest goes back in front. */
    const run = (batch: Array<Scheduler.Task>, lane: "urgent" | "normal"): boolean => {
      for (let i = 0; i < batch.length; i++) {
        try {
          batch[i]!()
        } catch (error) {
          // The rest of the batch stays queued for the next turn; the error goes on to the
          // process's handler (the runner's logs it and exits: src/observability/process-output.ts).
          this.putBack(batch, i + 1, lane)
          this.spentThisTurn = this.sliceMs
          setImmediate(this.drainNextTurn)
          throw error
        }
        // performance.now() costs tens of nanoseconds; one step of a fiber, microseconds to
        // milliseconds (a fiber runs up to 2,048 operations before it yields).
        const sliceOver = performance.now() - start >= this.sliceMs
        if (sliceOver || (lane === "normal" && this.urgent.length > 0)) {
          this.putBack(batch, i + 1, lane)
          return false
        }
      }
      return true
    }
    while (this.urgent.length > 0 || this.normal.length > 0) {
      const lane = this.urgent.length > 0 ? "urgent" : "normal"
      const batch = lane === "urgent" ? this.urgent : this.normal
      if (lane === "urgent") this.urgent = []
      else this.normal = []
      const done = run(batch, lane)
      const pending = this.urgent.length > 0 || this.normal.length > 0
      if (!done && pending && performance.now() - start >= this.sliceMs) {
        this.spentThisTurn = this.sliceMs
        setImmediate(this.drainNextTurn)
        return
      }
    }
    this.spentThisTurn = performance.now() - start
    this.scheduled = false
  }

  private putBack(batch: Array<Scheduler.Task>, from: number, lane: "urgent" | "normal") {
    if (from >= batch.length) return
    if (lane === "urgent") this.urgent = batch.slice(from).concat(this.urgent)
    else this.normal = batch.slice(from).concat(this.normal)
  }
}
