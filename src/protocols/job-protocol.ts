/**
 * The JobEntity's protocol (id = job id): the messages that wake, cancel and query one
 * generation. Its behaviour is src/jobs/job-entity.ts. A waiting job has no entity in
 * memory: what wakes it is its row's due time (src/jobs/job-waker.ts), so wake-ups are
 * volatile; a lost one costs a lease (or, for a new job, its first due time), never the job.
 */
import { ClusterSchema, Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Schema } from "effect"
import { JobId, RequestKey, UserId } from "../domain/ids.js"
import { JobRecord } from "../domain/job-record.js"
import { JobState } from "../domain/job-state.js"

/** An authenticated KIE callback: only a wake-up, the job asks KIE about its task itself. */
export const KieCallback = Rpc.make("KieCallback", { payload: { jobId: JobId, taskId: Schema.String } })

/**
 * The job is due: from the waker, or from the admission that just wrote the job (a new job
 * needs no persisted start: its row is due a few seconds after admission anyway). `row` is
 * the job's row as the sender has just written or claimed it, so that the run need not read
 * it again; only for a queued or polling job (src/jobs/job-waker.ts says why).
 *
 * `found` is the waker's poll that found the video of `taskId` (src/jobs/job-waker.ts): the
 * run takes it as that poll's answer instead of asking KIE again.
 */
export const Wake = Rpc.make("Wake", {
  payload: {
    row: Schema.optional(JobRecord),
    found: Schema.optional(Schema.Struct({ taskId: Schema.String, resultUrl: Schema.String }))
  }
})

/**
 * The user's Cancel button: honoured only while the job has not reached KIE. Keyed by the
 * press (callback query id), since its answer depends on who pressed and when (docs/architecture.md, "Cluster pitfalls").
 */
export const Cancel = Rpc.make("Cancel", {
  payload: { jobId: JobId, userId: UserId, requestKey: RequestKey },
  success: Schema.Literal("cancelled", "too-late", "not-found"),
  primaryKey: ({ requestKey }) => requestKey
}).annotate(ClusterSchema.Persisted, true)

export const GetState = Rpc.make("GetState", { success: Schema.OptionFromSelf(JobState) })

export const JobEntity = Entity.make("Job", [KieCallback, Wake, Cancel, GetState])
