/**
 * JobEntity (id = job id) drives one generation from `queued` to a terminal state.
 *
 * This is the first slice: the job row is created (queued) by UserEntity.StartJob in the
 * same transaction as the reservation, and `Start` acknowledges it. Submission to KIE,
 * polling and delivery come with the KIE client and the Telegram gateway.
 */
import { ClusterSchema, Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Effect, Option, Schema } from "effect"
import { JobId, UserId } from "../domain/ids.js"
import { JobRepo, JobState } from "../storage/job-repo.js"

export const Start = Rpc.make("Start", {
  payload: { jobId: JobId, userId: UserId },
  success: JobState,
  primaryKey: ({ jobId }) => jobId
})
  .annotate(ClusterSchema.Persisted, true)
  .annotate(ClusterSchema.Uninterruptible, true)

export const GetState = Rpc.make("GetState", { success: Schema.OptionFromSelf(JobState) })

export const JobEntity = Entity.make("Job", [Start, GetState])

export const JobEntityLive = JobEntity.toLayer(
  Effect.gen(function*() {
    const address = yield* Entity.CurrentAddress
    const jobId = JobId.make(address.entityId)
    const repo = yield* JobRepo

    return JobEntity.of({
      Start: () =>
        repo.stateOf(jobId).pipe(
          Effect.map(Option.getOrElse((): JobState => "failed")),
          Effect.tap((state) => Effect.logDebug("job start acknowledged").pipe(Effect.annotateLogs({ jobId, state }))),
          Effect.orDie
        ),
      GetState: () => repo.stateOf(jobId).pipe(Effect.orDie)
    })
  }).pipe(Effect.orDie),
  { maxIdleTime: "1 minute" }
)
