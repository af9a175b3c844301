/**
 * JobEntity (id = job id) drives one generation from `queued` to `delivered`, `refunded`
 * or `failed` (see src/jobs/job-driver.ts for the steps).
 *
 * The driver runs in a fiber the entity owns, so the mailbox stays free: a `KieCallback`
 * reaches a polling job at once instead of queueing behind it (cluster-notes P5). While the
 * driver runs, the entity keeps itself alive; that keep-alive is a persisted message, so a
 * job whose runner died is re-activated on its next owner and resumes from its stored state.
 */
import { ClusterSchema, Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Cause, Effect, FiberHandle, Layer, Option, Queue, Schedule, Schema } from "effect"
import { JobId, UserId } from "../domain/ids.js"
import { KieCallbackSink } from "../kie/callback-sink.js"
import { makeJobDriver } from "../jobs/job-driver.js"
import { driverRestartDelay } from "../jobs/job-policy.js"
import { isTerminal, JobRepo, JobState } from "../storage/job-repo.js"

export const Start = Rpc.make("Start", {
  payload: { jobId: JobId, userId: UserId },
  success: JobState,
  primaryKey: ({ jobId }) => jobId
}).annotate(ClusterSchema.Persisted, true)

/** An authenticated KIE callback: only a wake-up, the driver re-reads the task itself. */
export const KieCallback = Rpc.make("KieCallback", {
  payload: { jobId: JobId, taskId: Schema.String },
  primaryKey: ({ taskId }) => taskId
}).annotate(ClusterSchema.Persisted, true)

export const GetState = Rpc.make("GetState", { success: Schema.OptionFromSelf(JobState) })

export const JobEntity = Entity.make("Job", [Start, KieCallback, GetState])

export const JobEntityLive = JobEntity.toLayer(
  Effect.gen(function*() {
    const address = yield* Entity.CurrentAddress
    const jobId = JobId.make(address.entityId)
    const repo = yield* JobRepo
    const drive = yield* makeJobDriver
    const context = yield* Effect.context<never>()
    const keepAlive = (enabled: boolean) => Effect.provide(Entity.keepAlive(enabled) as Effect.Effect<void>, context)

    const wake = yield* Queue.sliding<void>(1)
    const driver = yield* FiberHandle.make<void, never>()

    const run = drive(jobId, wake).pipe(
      // A defect (the database went away, say) must not strand the job: log and start over.
      Effect.tapErrorCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("job driver died; restarting", cause)
      ),
      Effect.retry(Schedule.spaced(driverRestartDelay)),
      Effect.ensuring(keepAlive(false))
    )

    const ensureRunning = keepAlive(true).pipe(
      Effect.zipRight(FiberHandle.run(driver, run, { onlyIfMissing: true })),
      Effect.asVoid
    )

    const current = yield* repo.stateOf(jobId)
    if (Option.isSome(current) && !isTerminal(current.value)) {
      yield* ensureRunning
    } else {
      // A keep-alive left unanswered by a crash would otherwise pin a finished job.
      yield* keepAlive(false)
    }

    return JobEntity.of({
      Start: () =>
        Effect.gen(function*() {
          const state = yield* repo.stateOf(jobId)
          if (Option.isNone(state)) return "failed" as const
          if (!isTerminal(state.value)) yield* ensureRunning
          return state.value
        }).pipe(Effect.orDie),

      KieCallback: () =>
        Effect.gen(function*() {
          const state = yield* repo.stateOf(jobId)
          if (Option.isNone(state) || isTerminal(state.value)) return
          yield* ensureRunning
          yield* Queue.offer(wake, undefined)
        }).pipe(Effect.orDie),

      GetState: () => repo.stateOf(jobId).pipe(Effect.orDie)
    })
  }).pipe(Effect.orDie),
  { maxIdleTime: "1 minute" }
)

/** KIE callbacks from the HTTP endpoint become persisted wake-ups of their job. */
export const JobCallbackSinkLive = Layer.effect(
  KieCallbackSink,
  Effect.map(JobEntity.client, (jobs) => ({
    wake: ({ jobId, taskId }) =>
      Effect.gen(function*() {
        const id = yield* Schema.decodeUnknown(JobId)(jobId)
        yield* jobs(id).KieCallback({ jobId: id, taskId }, { discard: true })
      })
  }))
)
