/**
 * The job's state machine, pure: `transition(state, event)` says what the job becomes and
 * what must be done (`commands`); src/jobs/job-steps.ts does it and feeds the results back
 * as events. No clock, no I/O: the tests run it as a table (test/jobs/job-machine.test.ts).
 *
 *   Queued ─► Submitting ─► Polling ─► Delivering ─► Delivered      (unit captured)
 *     ▲ │         │  ▲          │ │         │
 *     │ └ paused ─┘  └ resubmit ┘ │         │
 *     └──── KIE paused ───────────┘         │
 *   any unfinished ─► Refunding ─► Refunded (unit back, user told) | Failed (the refund was refused)
 *
 * A `Wake` (the job is due, or a callback came) asks for the state's one piece of work;
 * the work's outcome is the next event. Each event that changes the state is written to
 * the row (with the due time of the next wake) before the commands it returns run.
 */
import type { JobFailure } from "../domain/job-failure.js"
import type { KieError } from "../errors/kie-errors.js"
import {
  generationAttempts,
  kieClassPolicy,
  nextPollDelay,
  operatorRecheck,
  operatorWaitLimitMs,
  progressEditIntervalMs,
  slowAfterMs
} from "./job-policy.js"

export type MachineState =
  /** Waiting for its turn at KIE; `paused` while KIE is unusable for an operator reason. */
  | { readonly _tag: "Queued"; readonly attempts: number; readonly paused: boolean }
  /** Its photo goes to KIE and a task is created: one step, the task id written with its answer. */
  | { readonly _tag: "Submitting"; readonly attempts: number }
  | {
    readonly _tag: "Polling"
    readonly attempts: number
    readonly taskId: string
    readonly deadlineMs: number
    /** Polls that found the task still running, and of those, the failed ones in a row. */
    readonly polls: number
    readonly failedPolls: number
    /** When "generating" was last shown (null: not yet): at most one such edit per `progressEditIntervalMs`. */
    readonly shownAtMs: number | null
  }
  | { readonly _tag: "Delivering"; readonly resultUrl: string }
  /** The decided outcome is a refund; `settled` once the ledger has answered. */
  | { readonly _tag: "Refunding"; readonly failure: JobFailure; readonly settled: "refunded" | "failed" | null }
  | { readonly _tag: "Delivered" }
  | { readonly _tag: "Refunded" }
  | { readonly _tag: "Failed" }

/** What a poll of the task found. */
export type PollResult =
  | { readonly _tag: "Running" }
  | { readonly _tag: "Succeeded"; readonly resultUrl: string }
  | { readonly _tag: "Failed"; readonly error: KieError }
  /** KIE did not answer usefully; the task's fate is unknown. */
  | { readonly _tag: "Unanswered"; readonly error: KieError }

export type MachineEvent =
  /** The job is due (or a callback came). `now` and the breaker are read by the caller. */
  | { readonly _tag: "Wake"; readonly now: number; readonly createdAtMs: number; readonly breakerOpen: boolean }
  /** The user pressed Cancel. */
  | { readonly _tag: "Cancel" }
  | { readonly _tag: "TaskCreated"; readonly taskId: string; readonly deadlineMs: number; readonly now: number; readonly callbacksOn: boolean }
  | { readonly _tag: "SubmitFailed"; readonly failure: JobFailure; readonly kie: KieError | null; readonly breakerOpen: boolean; readonly now: number }
  | {
    readonly _tag: "Polled"
    readonly result: PollResult
    readonly now: number
    readonly createdAtMs: number
    readonly breakerOpen: boolean
    readonly callbacksOn: boolean
    /** Whether the progress message is out yet: an edit of none would be lost. */
    readonly progressPosted: boolean
  }
  | { readonly _tag: "VideoSent" }
  /** The video would wait long for Telegram's budget: the job waits until `untilMs`, holding nothing. */
  | { readonly _tag: "VideoDeferred"; readonly untilMs: number }
  | { readonly _tag: "VideoFailed"; readonly reason: string }
  /** The refund's answer: `refunded` also when the ledger already held it. */
  | { readonly _tag: "RefundAnswered"; readonly refunded: boolean }
  /** The user has been told how the refund ended. */
  | { readonly _tag: "Told" }

/** The progress message's texts, in the words of src/i18n. */
export type ProgressText =
  | { readonly _tag: "Paused" }
  | { readonly _tag: "Generating"; readonly elapsedMs: number }
  | { readonly _tag: "Slow"; readonly elapsedMs: number }
  | { readonly _tag: "Done" }
  | { readonly _tag: "Ended" }

export type Command =
  | { readonly _tag: "Submit"; readonly attempt: number }
  | { readonly _tag: "Poll"; readonly taskId: string; readonly lastChance: boolean }
  | { readonly _tag: "SendVideo"; readonly resultUrl: string }
  | { readonly _tag: "Refund"; readonly failure: JobFailure }
  | { readonly _tag: "Tell"; readonly failure: JobFailure; readonly refunded: boolean }
  | { readonly _tag: "Show"; readonly text: ProgressText; readonly force: boolean }
  /** The next wake-up; the job waits (and may be passivated) until then. */
  | { readonly _tag: "WakeAt"; readonly atMs: number }
  | { readonly _tag: "Log"; readonly level: "warning" | "error"; readonly message: string }

export interface Transition {
  readonly state: MachineState
  readonly commands: ReadonlyArray<Command>
}

/** An event the state does not take: the caller's bug, or a stale message (its work is dropped). */
export class IllegalTransition {
  readonly _tag = "IllegalTransition"
  constructor(readonly state: MachineState["_tag"], readonly event: MachineEvent["_tag"]) {}
  get message() {
    return `a job in ${this.state} does not take ${this.event}`
  }
}

const stay = (state: MachineState, ...commands: ReadonlyArray<Command>): Transition => ({ state, commands })
const to = (state: MachineState, ...commands: ReadonlyArray<Command>): Transition => ({ state, commands })

export const isFinished = (state: MachineState) =>
  state._tag === "Delivered" || state._tag === "Refunded" || state._tag === "Failed"

/** The one answer to "can the user still cancel": until the job has reached KIE. */
export const isCancellable = (state: MachineState) => state._tag === "Queued" || state._tag === "Submitting"

/** A job's failure from a KIE error: a KIE class missing from JobFailure does not compile here. */
export const failureOf = (error: KieError): JobFailure => ({ _tag: error._tag, reason: error.reason })

const refund = (failure: JobFailure, reason: string): Transition =>
  to({ _tag: "Refunding", failure, settled: null }, { _tag: "Log", level: "warning", message: `job will be refunded: ${reason}` }, {
    _tag: "Refund",
    failure
  })

/** KIE is paused for an operator: wait in the queue, credit untouched, and look again later. */
const pause = (attempts: number, now: number): Transition =>
  to(
    { _tag: "Queued", attempts, paused: true },
    { _tag: "Show", text: { _tag: "Paused" }, force: true },
    { _tag: "WakeAt", atMs: now + operatorRecheck }
  )

/** A KIE failure of the task or its creation, by the policy of its class. */
const kieFailed = (error: KieError, attempts: number, breakerOpen: boolean, now: number, stage: "submission" | "generation") => {
  const policy = kieClassPolicy[error._tag]
  if (policy.generation === "wait-for-operator" && breakerOpen) return pause(attempts, now)
  if (stage === "generation" && policy.generation === "resubmit" && attempts < generationAttempts) {
    return to({ _tag: "Submitting", attempts }, { _tag: "Log", level: "warning", message: `resubmit: ${error.message}` }, {
      _tag: "Submit",
      attempt: attempts + 1
    })
  }
  return refund(failureOf(error), error.message)
}

const wake = (state: MachineState, event: Extract<MachineEvent, { _tag: "Wake" }>): Transition => {
  switch (state._tag) {
    case "Queued": {
      if (!event.breakerOpen) return to({ _tag: "Submitting", attempts: state.attempts }, { _tag: "Submit", attempt: state.attempts + 1 })
      if (event.now - event.createdAtMs >= operatorWaitLimitMs) {
        return refund({ _tag: "KieOperatorError", reason: "Paused" }, "KIE stayed unusable")
      }
      const next = Math.min(event.now + operatorRecheck, event.createdAtMs + operatorWaitLimitMs)
      return to(
        { ...state, paused: true },
        ...(state.paused ? [] : [{ _tag: "Show", text: { _tag: "Paused" }, force: true } as const]),
        { _tag: "WakeAt", atMs: next }
      )
    }
    case "Submitting":
      return stay(state, { _tag: "Submit", attempt: state.attempts + 1 })
    case "Polling":
      return stay(state, { _tag: "Poll", taskId: state.taskId, lastChance: event.now >= state.deadlineMs })
    case "Delivering":
      return stay(state, { _tag: "SendVideo", resultUrl: state.resultUrl })
    case "Refunding":
      return state.settled === null
        ? stay(state, { _tag: "Refund", failure: state.failure })
        : stay(state, { _tag: "Tell", failure: state.failure, refunded: state.settled === "refunded" })
    case "Delivered":
    case "Refunded":
    case "Failed":
      return stay(state)
  }
}

const polled = (state: Extract<MachineState, { _tag: "Polling" }>, event: Extract<MachineEvent, { _tag: "Polled" }>): Transition => {
  const { result, now } = event
  switch (result._tag) {
    case "Succeeded":
      return to({ _tag: "Delivering", resultUrl: result.resultUrl }, { _tag: "SendVideo", resultUrl: result.resultUrl })
    case "Failed":
      return kieFailed(result.error, state.attempts, event.breakerOpen, now, "generation")
    case "Running":
    case "Unanswered": {
      if (now >= state.deadlineMs) return refund({ _tag: "Deadline" }, `task ${state.taskId} passed its deadline`)
      const failed = result._tag === "Unanswered" && kieClassPolicy[result.error._tag].poll === "retry-soon"
      const failedPolls = failed ? state.failedPolls + 1 : 0
      const delay = nextPollDelay({ polls: state.polls + 1, failedPolls, callbacksOn: event.callbacksOn })
      const elapsedMs = now - event.createdAtMs
      // Each edit spends one of the bot's 30 messages a second, and a job may sleep between polls.
      const showing = event.progressPosted && (state.shownAtMs === null || now - state.shownAtMs >= progressEditIntervalMs)
      const text: ProgressText = elapsedMs > slowAfterMs ? { _tag: "Slow", elapsedMs } : { _tag: "Generating", elapsedMs }
      return to(
        { ...state, polls: state.polls + 1, failedPolls, shownAtMs: showing ? now : state.shownAtMs },
        ...(result._tag === "Unanswered"
          ? [{ _tag: "Log", level: "warning", message: `polling KIE failed; will poll again: ${result.error.message}` } as const]
          : []),
        ...(showing
          ? [{ _tag: "Show", text, force: false } as const]
          : []),
        { _tag: "WakeAt", atMs: Math.min(now + delay, state.deadlineMs) }
      )
    }
  }
}

/** The heart of the job: what `event` makes of `state`, and what to do about it. */
export const transition = (state: MachineState, event: MachineEvent): Transition | IllegalTransition => {
  if (event._tag === "Wake") return wake(state, event)
  if (event._tag === "Cancel") {
    return isCancellable(state) ? refund({ _tag: "Cancelled" }, "cancelled by the user") : new IllegalTransition(state._tag, event._tag)
  }
  switch (state._tag) {
    case "Submitting":
      if (event._tag === "TaskCreated") {
        // Never at once: KIE has no video yet, and may not even know the task for a while
        // (docs/kie-facts.md). With callbacks on, the first poll only catches a lost callback.
        const firstPoll = nextPollDelay({ polls: 0, failedPolls: 0, callbacksOn: event.callbacksOn })
        return to(
          {
            _tag: "Polling",
            attempts: state.attempts + 1,
            taskId: event.taskId,
            deadlineMs: event.deadlineMs,
            polls: 0,
            failedPolls: 0,
            shownAtMs: null
          },
          { _tag: "WakeAt", atMs: Math.min(event.now + firstPoll, event.deadlineMs) }
        )
      }
      if (event._tag === "SubmitFailed") {
        return event.kie === null
          ? refund(event.failure, event.failure._tag)
          : kieFailed(event.kie, state.attempts, event.breakerOpen, event.now, "submission")
      }
      break
    case "Polling":
      if (event._tag === "Polled") return polled(state, event)
      break
    case "Delivering":
      // The capture is written with the delivered state (src/storage/job-repo.ts).
      if (event._tag === "VideoSent") return to({ _tag: "Delivered" }, { _tag: "Show", text: { _tag: "Done" }, force: true })
      if (event._tag === "VideoDeferred") return stay(state, { _tag: "WakeAt", atMs: event.untilMs })
      if (event._tag === "VideoFailed") return refund({ _tag: "DeliveryFailed", reason: event.reason }, `delivery failed: ${event.reason}`)
      break
    case "Refunding":
      if (event._tag === "RefundAnswered" && state.settled === null) {
        const settled = event.refunded ? "refunded" as const : "failed" as const
        // A user who blocked the bot is not written to again.
        if (state.failure._tag === "DeliveryFailed" && state.failure.reason === "BlockedByUser") {
          return to({ _tag: settled === "refunded" ? "Refunded" : "Failed" })
        }
        return to(
          { ...state, settled },
          ...(event.refunded ? [] : [{ _tag: "Log", level: "error", message: "job ended without a refund" } as const]),
          { _tag: "Tell", failure: state.failure, refunded: event.refunded }
        )
      }
      if (event._tag === "Told" && state.settled !== null) {
        return to({ _tag: state.settled === "refunded" ? "Refunded" : "Failed" })
      }
      break
  }
  return new IllegalTransition(state._tag, event._tag)
}
