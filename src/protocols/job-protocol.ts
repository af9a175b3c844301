/**
 * The JobEntity's protocol (id = job id): the messages that start, wake, cancel and query
 * one generation. Its behaviour is src/jobs/job-entity.ts. A waiting job has no entity in
 * memory: what wakes it is its row's due time (src/jobs/job-waker.ts), so wake-ups are
 * volatile; a lost one costs a lease, never the job.
 */
import { ClusterSchema, Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Schema } from "effect"
import { JobId, RequestKey, UserId } from "../domain/ids.js"
import { JobState } from "../domain/job-state.js"

export const Start = Rpc.make("Start", {
  payload: { jobId: JobId, userId: UserId },
  success: JobState,
  primaryKey: ({ jobId }) => jobId
}).annotate(ClusterSchema.Persisted, true)

/** An authenticated KIE callback: only a wake-up, the job asks KIE about its task itself. */
export const KieCallback = Rpc.make("KieCallback", { payload: { jobId: JobId, taskId: Schema.String } })

/** The waker's: the job is due. */
export const Wake = Rpc.make("Wake")

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

export const JobEntity = Entity.make("Job", [Start, KieCallback, Wake, Cancel, GetState])
