/**
 * The job's state machine as a table: every state with every event, the state it becomes
 * and the commands it asks for, illegal pairs included. No cluster, no clock, no I/O.
 */
import { describe, expect, it } from "vitest"
import type { JobFailure } from "../../src/domain/job-failure.js"
import { KieOperatorError, KieTransientError, KieUnknownError, KieUserError } from "../../src/errors/kie-errors.js"
import {
  type Command,
  IllegalTransition,
  isCancellable,
  type MachineEvent,
  type MachineState,
  transition
} from "../../src/jobs/job-machine.js"
import { generationAttempts, nextPollDelay, operatorRecheck, operatorWaitLimitMs, wakeLeaseMs } from "../../src/jobs/job-policy.js"

const now = 1_000_000
const createdAtMs = now - 10_000
const deadlineMs = now + 600_000
const cancelled: JobFailure = { _tag: "Cancelled" }

const queued: MachineState = { _tag: "Queued", attempts: 0, paused: false }
const paused: MachineState = { _tag: "Queued", attempts: 0, paused: true }
const submitting: MachineState = { _tag: "Submitting", attempts: 0 }
const polling: MachineState = { _tag: "Polling", attempts: 1, taskId: "t1", deadlineMs, polls: 2, failedPolls: 0, shownAtMs: null }
const delivering: MachineState = { _tag: "Delivering", resultUrl: "https://r/v.mp4" }
const refunding: MachineState = { _tag: "Refunding", failure: cancelled, settled: null }
const refundAnswered: MachineState = { _tag: "Refunding", failure: cancelled, settled: "refunded" }

const wake = (overrides: Partial<Extract<MachineEvent, { _tag: "Wake" }>> = {}): MachineEvent => ({
  _tag: "Wake",
  now,
  createdAtMs,
  breakerOpen: false,
  ...overrides
})
const polled = (result: Extract<MachineEvent, { _tag: "Polled" }>["result"], overrides: Partial<Extract<MachineEvent, { _tag: "Polled" }>> = {}): MachineEvent => ({
  _tag: "Polled",
  result,
  now,
  createdAtMs,
  breakerOpen: false,
  callbacksOn: false,
  progressPosted: true,
  ...overrides
})
const userError = new KieUserError({ operation: "recordInfo", reason: "ContentPolicy" })
const transient = new KieTransientError({ operation: "recordInfo", reason: "ServerBusy" })
const operator = new KieOperatorError({ operation: "createTask", reason: "AccountOutOfCredits" })
const unknown = new KieUnknownError({ operation: "recordInfo", reason: "Unrecognised" })

/** The command tags only, minus the logs: what the interpreters will do. */
const work = (commands: ReadonlyArray<Command>) => commands.filter((command) => command._tag !== "Log").map((command) => command._tag)

interface Row {
  readonly name: string
  readonly from: MachineState
  readonly event: MachineEvent
  readonly to: MachineState["_tag"] | "illegal"
  readonly commands?: ReadonlyArray<Command["_tag"]>
  readonly check?: (state: MachineState, commands: ReadonlyArray<Command>) => void
}

const refundWith = (tag: JobFailure["_tag"]) => (state: MachineState) => {
  expect(state._tag).toBe("Refunding")
  if (state._tag === "Refunding") expect(state.failure._tag).toBe(tag)
}
const wakeAt = (at: number) => (_: MachineState, commands: ReadonlyArray<Command>) =>
  expect(commands.find((command) => command._tag === "WakeAt")).toEqual({ _tag: "WakeAt", atMs: at })

const table: ReadonlyArray<Row> = [
  // queued
  { name: "a queued job is submitted when KIE is usable", from: queued, event: wake(), to: "Submitting", commands: ["Submit"] },
  {
    name: "a queued job pauses while the breaker is open, says so once, and looks again later",
    from: queued,
    event: wake({ breakerOpen: true }),
    to: "Queued",
    commands: ["Show", "WakeAt"],
    check: wakeAt(now + operatorRecheck)
  },
  { name: "a paused job does not repeat its paused message", from: paused, event: wake({ breakerOpen: true }), to: "Queued", commands: ["WakeAt"] },
  {
    name: "a job paused past the operator limit is refunded",
    from: paused,
    event: wake({ breakerOpen: true, createdAtMs: now - operatorWaitLimitMs }),
    to: "Refunding",
    commands: ["Refund"],
    check: refundWith("KieOperatorError")
  },
  { name: "cancel while queued refunds", from: queued, event: { _tag: "Cancel" }, to: "Refunding", commands: ["Refund"], check: refundWith("Cancelled") },
  { name: "a queued job takes no poll result", from: queued, event: polled({ _tag: "Running" }), to: "illegal" },
  // submitting
  { name: "a submitting job woken again submits (its task id would be in the row otherwise)", from: submitting, event: wake(), to: "Submitting", commands: ["Submit"] },
  {
    name: "a created task is first polled after the cadence's first wait, not at once (KIE has no video yet)",
    from: submitting,
    event: { _tag: "TaskCreated", taskId: "t9", deadlineMs, now, callbacksOn: false },
    to: "Polling",
    commands: ["WakeAt"],
    check: (state, commands) => {
      expect(state).toEqual({ _tag: "Polling", attempts: 1, taskId: "t9", deadlineMs, polls: 0, failedPolls: 0, shownAtMs: null })
      wakeAt(now + 5_000)(state, commands)
    }
  },
  {
    name: "with callbacks the first poll only catches a lost callback",
    from: submitting,
    event: { _tag: "TaskCreated", taskId: "t9", deadlineMs, now, callbacksOn: true },
    to: "Polling",
    check: wakeAt(now + 60_000)
  },
  {
    name: "an operator error at submission with the breaker open waits in the queue",
    from: submitting,
    event: { _tag: "SubmitFailed", failure: { _tag: "KieOperatorError", reason: operator.reason }, kie: operator, breakerOpen: true, now },
    to: "Queued",
    commands: ["Show", "WakeAt"]
  },
  {
    name: "an operator error about this request alone is refunded",
    from: submitting,
    event: { _tag: "SubmitFailed", failure: { _tag: "KieOperatorError", reason: operator.reason }, kie: operator, breakerOpen: false, now },
    to: "Refunding",
    check: refundWith("KieOperatorError")
  },
  {
    name: "a transient error at submission (after the call's own retries) is refunded",
    from: submitting,
    event: { _tag: "SubmitFailed", failure: { _tag: "KieTransientError", reason: transient.reason }, kie: transient, breakerOpen: false, now },
    to: "Refunding",
    check: refundWith("KieTransientError")
  },
  {
    name: "a photo Telegram will not give is refunded",
    from: submitting,
    event: { _tag: "SubmitFailed", failure: { _tag: "PhotoUnavailable", reason: "TooBig" }, kie: null, breakerOpen: false, now },
    to: "Refunding",
    check: refundWith("PhotoUnavailable")
  },
  { name: "cancel while submitting refunds", from: submitting, event: { _tag: "Cancel" }, to: "Refunding", check: refundWith("Cancelled") },
  { name: "a submitting job takes no video", from: submitting, event: { _tag: "VideoSent" }, to: "illegal" },
  // polling
  {
    name: "a polling job woken polls, the last chance at its deadline",
    from: polling,
    event: wake({ now: deadlineMs }),
    to: "Polling",
    check: (_, commands) => expect(commands).toEqual([{ _tag: "Poll", taskId: "t1", lastChance: true }])
  },
  { name: "a finished task is delivered", from: polling, event: polled({ _tag: "Succeeded", resultUrl: "u" }), to: "Delivering", commands: ["SendVideo"] },
  {
    name: "a running task is polled again on the cadence, with a progress edit",
    from: polling,
    event: polled({ _tag: "Running" }),
    to: "Polling",
    commands: ["Show", "WakeAt"],
    check: (state, commands) => {
      expect(state._tag === "Polling" && state.polls).toBe(3)
      wakeAt(now + nextPollDelay({ polls: 3, failedPolls: 0, callbacksOn: false }))(state, commands)
    }
  },
  {
    name: "a running task gets no edit before its progress message is out, and shows it once it is",
    from: polling,
    event: polled({ _tag: "Running" }, { progressPosted: false }),
    to: "Polling",
    commands: ["WakeAt"],
    check: (state) => expect(state._tag === "Polling" && state.shownAtMs).toBe(null)
  },
  {
    name: "a running task shown less than 30 s ago gets no edit",
    from: { ...polling, shownAtMs: now - 20_000 },
    event: polled({ _tag: "Running" }),
    to: "Polling",
    commands: ["WakeAt"]
  },
  {
    name: "a failed poll is repeated soon",
    from: polling,
    event: polled({ _tag: "Unanswered", error: transient }),
    to: "Polling",
    check: (state, commands) => {
      expect(state._tag === "Polling" && state.failedPolls).toBe(1)
      wakeAt(now + 5_000)(state, commands)
    }
  },
  {
    name: "an operator error on a poll keeps the cadence",
    from: { ...polling, failedPolls: 2 },
    event: polled({ _tag: "Unanswered", error: operator }),
    to: "Polling",
    check: (state) => expect(state._tag === "Polling" && state.failedPolls).toBe(0)
  },
  { name: "a running task past its deadline is refunded", from: polling, event: polled({ _tag: "Running" }, { now: deadlineMs }), to: "Refunding", check: refundWith("Deadline") },
  { name: "a task refused for its content is refunded", from: polling, event: polled({ _tag: "Failed", error: userError }), to: "Refunding", check: refundWith("KieUserError") },
  {
    name: "a generation that failed on KIE's side is resubmitted",
    from: polling,
    event: polled({ _tag: "Failed", error: unknown }),
    to: "Submitting",
    commands: ["Submit"],
    check: (state) => expect(state).toEqual({ _tag: "Submitting", attempts: 1 })
  },
  {
    name: "after the last attempt a failed generation is refunded",
    from: { ...polling, attempts: generationAttempts },
    event: polled({ _tag: "Failed", error: transient }),
    to: "Refunding",
    check: refundWith("KieTransientError")
  },
  { name: "a generation failed for an operator reason waits while KIE is paused", from: polling, event: polled({ _tag: "Failed", error: operator }, { breakerOpen: true }), to: "Queued" },
  { name: "cancel after submission is refused", from: polling, event: { _tag: "Cancel" }, to: "illegal" },
  // delivering
  { name: "a delivering job woken sends its video", from: delivering, event: wake(), to: "Delivering", commands: ["SendVideo"] },
  { name: "a sent video finishes the job (its capture is written with it)", from: delivering, event: { _tag: "VideoSent" }, to: "Delivered", commands: ["Show"] },
  {
    name: "a video that would wait long for Telegram's budget waits as its due time, still delivering",
    from: delivering,
    event: { _tag: "VideoDeferred", untilMs: 90_000 },
    to: "Delivering",
    commands: ["WakeAt"],
    check: wakeAt(90_000)
  },
  { name: "a video that cannot be sent is refunded", from: delivering, event: { _tag: "VideoFailed", reason: "ServerError" }, to: "Refunding", check: refundWith("DeliveryFailed") },
  { name: "cancel while delivering is refused", from: delivering, event: { _tag: "Cancel" }, to: "illegal" },
  // refunding
  { name: "a decided refund is settled", from: refunding, event: wake(), to: "Refunding", commands: ["Refund"] },
  { name: "a settled refund is told", from: refunding, event: { _tag: "RefundAnswered", refunded: true }, to: "Refunding", commands: ["Tell"] },
  {
    name: "a user who blocked the bot is not told",
    from: { _tag: "Refunding", failure: { _tag: "DeliveryFailed", reason: "BlockedByUser" }, settled: null },
    event: { _tag: "RefundAnswered", refunded: true },
    to: "Refunded",
    commands: []
  },
  { name: "a refused refund ends failed after the user is told", from: { ...refunding, settled: "failed" }, event: { _tag: "Told" }, to: "Failed" },
  { name: "a told refund ends refunded", from: refundAnswered, event: { _tag: "Told" }, to: "Refunded", commands: [] },
  { name: "a refund answered twice is illegal", from: refundAnswered, event: { _tag: "RefundAnswered", refunded: true }, to: "illegal" },
  { name: "cancel while refunding is refused", from: refunding, event: { _tag: "Cancel" }, to: "illegal" },
  // finished
  { name: "a delivered job woken does nothing", from: { _tag: "Delivered" }, event: wake(), to: "Delivered", commands: [] },
  { name: "a delivered job takes no late poll", from: { _tag: "Delivered" }, event: polled({ _tag: "Succeeded", resultUrl: "u" }), to: "illegal" },
  { name: "a refunded job takes no cancel", from: { _tag: "Refunded" }, event: { _tag: "Cancel" }, to: "illegal" },
  { name: "a failed job takes no video", from: { _tag: "Failed" }, event: { _tag: "VideoSent" }, to: "illegal" }
]

describe("the job's state machine", () => {
  it.each(table)("$name", (row) => {
    const next = transition(row.from, row.event)
    if (row.to === "illegal") {
      expect(next).toBeInstanceOf(IllegalTransition)
      return
    }
    if (next instanceof IllegalTransition) throw new Error(next.message)
    expect(next.state._tag).toBe(row.to)
    if (row.commands !== undefined) expect(work(next.commands)).toEqual(row.commands)
    row.check?.(next.state, next.commands)
  })

  it("every state meets every event: each pair is either a transition or illegal, never a throw", () => {
    const states = [queued, paused, submitting, polling, delivering, refunding, refundAnswered, { _tag: "Delivered" }, { _tag: "Refunded" }, { _tag: "Failed" }] as const
    const events: ReadonlyArray<MachineEvent> = [
      wake(),
      { _tag: "Cancel" },
      { _tag: "TaskCreated", taskId: "t", deadlineMs, now, callbacksOn: false },
      { _tag: "SubmitFailed", failure: cancelled, kie: null, breakerOpen: false, now },
      polled({ _tag: "Running" }),
      { _tag: "VideoSent" },
      { _tag: "VideoFailed", reason: "x" },
      { _tag: "RefundAnswered", refunded: true },
      { _tag: "Told" }
    ]
    for (const state of states) {
      for (const event of events) {
        const next = transition(state, event)
        if (next instanceof IllegalTransition) continue
        // A wake-up never writes a due time beyond the lease for work it starts now.
        for (const command of next.commands) if (command._tag === "WakeAt") expect(command.atMs).toBeLessThanOrEqual(now + wakeLeaseMs + 600_000)
      }
    }
  })

  it("only a job that has not reached KIE can be cancelled", () => {
    expect([queued, paused, submitting, polling, delivering, refunding].map(isCancellable)).toEqual([true, true, true, false, false, false])
  })

  it("polls back off from 5 s to 30 s, from 1 to 5 minutes with callbacks, and come sooner after failures", () => {
    expect([0, 1, 2, 3, 4, 5, 20].map((polls) => nextPollDelay({ polls, failedPolls: 0, callbacksOn: false })))
      .toEqual([5_000, 7_500, 11_250, 16_875, 25_312.5, 30_000, 30_000])
    expect([0, 1, 2, 3, 9].map((polls) => nextPollDelay({ polls, failedPolls: 0, callbacksOn: true })))
      .toEqual([60_000, 120_000, 240_000, 300_000, 300_000])
    expect([1, 2, 3, 9].map((failedPolls) => nextPollDelay({ polls: 9, failedPolls, callbacksOn: true })))
      .toEqual([5_000, 10_000, 20_000, 300_000])
  })
})
