/**
 * TestClock without the 1 ms floor of Node's `setTimeout(0)`, for tests that run a whole
 * runner on the TestClock.
 *
 * Before it fires each sleep, TestClock waits until the test's fibers have settled, and
 * between its looks it yields to the event loop with `setTimeout(0)`, at least three times
 * per sleep; Node never runs such a timer sooner than 1 ms. A runner keeps about ten
 * periodic loops (storage polls, the job waker, lock refreshes), so a virtual minute fires
 * some 500 sleeps, and a test of a 17-minute job waited half a minute of real time for
 * nothing. `setImmediate` gives the event loop a turn (I/O callbacks that are ready run in
 * the poll phase, before the check phase that runs it) in microseconds. The settling check
 * is TestClock's own, unchanged.
 *
 * Only for tests whose fibers wait on I/O: a computation that yields through Effect's
 * scheduler (which falls back to `setTimeout(0)` after long runs of microtasks) may not have
 * reached its next sleep after a `setImmediate` turn, so pure schedule tests keep the
 * standard clock.
 *
 * The methods replaced on the test's own clock are public methods of effect's
 * `TestClockImpl`, left out of its typings; effect is pinned exactly in package-lock.json,
 * and the guard fails the test at once if an upgrade moves them, instead of letting the
 * suite slow down unseen.
 */
import { Effect, Equal, type FiberId, type FiberStatus, type HashMap, TestClock } from "effect"

type Snapshot = HashMap.HashMap<FiberId.FiberId, FiberStatus.FiberStatus>

interface SettlingTestClock {
  freeze(): Effect.Effect<Snapshot, void>
  suspended(): Effect.Effect<Snapshot, void>
  awaitSuspended(): Effect.Effect<void>
  suspendedWarningStart(): Effect.Effect<void>
  suspendedWarningDone(): Effect.Effect<void>
}

const methods = ["freeze", "suspended", "awaitSuspended", "suspendedWarningStart", "suspendedWarningDone"] as const

const nextEventLoopTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

const keepStandard = Symbol("keepStandardTestClock")

/**
 * Keeps the current test's TestClock standard, for a test whose I/O takes real time on
 * purpose (a slow file server): a prompt clock would let minutes of virtual time, and the
 * runner's timeouts, pass while one download is under way.
 */
export const keepStandardTestClock: Effect.Effect<void> = Effect.flatMap(TestClock.testClock(), (testClock) =>
  Effect.sync(() => {
    ;(testClock as unknown as Record<symbol, boolean>)[keepStandard] = true
  }))

/** Makes the current test's TestClock prompt (see above); idempotent; nothing under a live clock. */
export const promptTestClock: Effect.Effect<void> = Effect.flatMap(TestClock.testClock(), (testClock) =>
  Effect.sync(() => {
    if (typeof testClock.adjust !== "function") return
    if ((testClock as unknown as Record<symbol, boolean>)[keepStandard] === true) return
    const clock = testClock as unknown as SettlingTestClock
    if (methods.some((name) => typeof clock[name] !== "function")) {
      throw new Error("effect's TestClockImpl changed: review test/support/prompt-test-clock.ts")
    }
    clock.suspended = function() {
      return Effect.zip(this.freeze(), Effect.zipRight(nextEventLoopTurn, this.freeze())).pipe(
        Effect.flatMap(([first, last]) => Equal.equals(first, last) ? Effect.succeed(first) : Effect.fail(undefined))
      )
    }
    clock.awaitSuspended = function() {
      const settled = Effect.zipWith(this.suspended(), Effect.zipRight(nextEventLoopTurn, this.suspended()), Equal.equals)
      return this.suspendedWarningStart().pipe(
        Effect.zipRight(Effect.eventually(Effect.filterOrFail(settled, (same) => same, () => undefined))),
        Effect.zipRight(this.suspendedWarningDone())
      )
    }
  }))
