/**
 * The machine's state as a `jobs` row and back. The row's `state` column keeps the step a
 * job is at (and where a refund was decided); `outcome = refund` with the failure's class
 * marks a decided refund. A stored failure of an unknown class is refused, not guessed.
 */
import { Either, type ParseResult } from "effect"
import { decodeJobFailure, encodeJobFailure } from "../domain/job-failure.js"
import type { JobState } from "../domain/job-state.js"
import type { PollingColumns } from "../storage/job-poll-writes.js"
import type { JobChanges, JobRecord } from "../storage/job-repo.js"
import type { MachineState } from "./job-machine.js"

export const machineStateOf = (job: JobRecord): Either.Either<MachineState, ParseResult.ParseError> => {
  switch (job.state) {
    case "delivered":
      return Either.right({ _tag: "Delivered" })
    case "refunded":
      return Either.right({ _tag: "Refunded" })
    case "failed":
      return Either.right({ _tag: "Failed" })
  }
  if (job.outcome === "refund") {
    return Either.map(
      decodeJobFailure({ error_class: job.error_class ?? "", error_detail: job.error_detail }),
      (failure): MachineState => ({ _tag: "Refunding", failure, settled: null })
    )
  }
  const taskId = job.kie_task_id
  switch (job.state) {
    case "queued":
      return Either.right({ _tag: "Queued", attempts: job.attempts, paused: job.paused === 1 })
    case "submitting":
    case "polling":
      // A task id is written with the polling state; without one there is a task to create.
      return Either.right(
        taskId === null
          ? { _tag: "Submitting", attempts: job.attempts }
          : {
            _tag: "Polling",
            attempts: job.attempts,
            taskId,
            deadlineMs: Number(job.poll_deadline_ms ?? 0),
            polls: job.polls,
            failedPolls: job.failed_polls,
            shownAtMs: job.progress_at_ms === null ? null : Number(job.progress_at_ms)
          }
      )
    case "delivering":
      return Either.right({ _tag: "Delivering", resultUrl: job.result_url ?? "" })
  }
}

/** The row's columns for `state`; a decided refund stays at the step it was decided in (`at`). */
export const columnsOf = (state: MachineState, at: JobState): { readonly state: JobState; readonly changes: JobChanges } => {
  switch (state._tag) {
    case "Queued":
      return { state: "queued", changes: { kie_task_id: null, attempts: state.attempts, paused: state.paused ? 1 : 0 } }
    case "Submitting":
      return { state: "submitting", changes: { kie_task_id: null, attempts: state.attempts, paused: 0 } }
    case "Polling":
      return { state: "polling", changes: pollingColumnsOf(state) }
    case "Delivering":
      return { state: "delivering", changes: { result_url: state.resultUrl } }
    case "Refunding":
      return { state: at, changes: { outcome: "refund", ...encodeJobFailure(state.failure) } }
    case "Delivered":
      return { state: "delivered", changes: {} }
    case "Refunded":
      return { state: "refunded", changes: {} }
    case "Failed":
      return { state: "failed", changes: {} }
  }
}

/** A polling job's columns (a poll's whole write, src/storage/job-poll-writes.ts). */
export const pollingColumnsOf = (state: Extract<MachineState, { readonly _tag: "Polling" }>): PollingColumns => ({
  kie_task_id: state.taskId,
  attempts: state.attempts,
  poll_deadline_ms: state.deadlineMs,
  polls: state.polls,
  failed_polls: state.failedPolls,
  progress_at_ms: state.shownAtMs === null ? null : Math.floor(state.shownAtMs)
})
