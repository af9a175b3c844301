/**
 * JobEntity (id = job id) runs one generation's state machine (./job-machine.ts, run by
 * ./job-steps.ts). It holds nothing while the job waits: each message runs the job from its
 * row until it waits again (its next due time written with its last step), then the entity
 * goes idle and is reaped within seconds. What wakes a waiting job is its due time, seen by
 * the waker (./job-waker.ts), or a KIE callback.
 *
 * Messages are handled concurrently so that a Cancel can stop a step that waits (behind the
 * KIE rate limit, on an upload); one run at a time per activation, and across runners the
 * row's version keeps one step at a time per job.
 */
import { Entity } from "@effect/cluster"
import { Clock, Effect, Fiber, FiberHandle, Layer, Option, Schema } from "effect"
import { JobId } from "../domain/ids.js"
import { KieCallbackSink } from "../kie/callback-sink.js"
import { JobEntity } from "../protocols/job-protocol.js"
import { JobRepo } from "../storage/job-repo.js"
import { ProgressMessages } from "./job-acknowledgement.js"
import { isCancellable, type MachineEvent, type MachineState } from "./job-machine.js"
import { callbackGraceMs, entityIdleTime } from "./job-policy.js"
import { JobSteps } from "./job-steps.js"
import { makeSupervision } from "./job-supervision.js"

export const JobEntityLive = JobEntity.toLayer(
  Effect.gen(function*() {
    const address = yield* Entity.CurrentAddress
    const jobId = JobId.make(address.entityId)
    const repo = yield* JobRepo
    const steps = yield* JobSteps
    const acknowledgement = (yield* ProgressMessages).of(jobId)
    const { supervised } = yield* makeSupervision(jobId)
    const running = yield* FiberHandle.make<Option.Option<MachineState>, never>()
    const lock = yield* Effect.makeSemaphore(1)

    const start = (first?: MachineEvent, options?: Parameters<JobSteps["run"]>[3]) =>
      FiberHandle.run(running, supervised(steps.run(jobId, acknowledgement, first, options)))

    /**
     * Joins the run under way, or starts one; returns once it is done (the progress message
     * it posted may still wait for its turn: ./job-acknowledgement.ts keeps it). A run cut
     * off by a Cancel is not this message's failure.
     */
    const runOnce = (first?: MachineEvent, options?: Parameters<JobSteps["run"]>[3]) =>
      lock.withPermits(1)(
        Effect.suspend(() => Option.match(FiberHandle.unsafeGet(running), { onNone: () => start(first, options), onSome: Effect.succeed }))
      ).pipe(Effect.flatMap(Fiber.await))

    return JobEntity.of({
      Wake: ({ payload }) =>
        Effect.asVoid(runOnce(undefined, {
          row: payload.row,
          found: payload.found && { taskId: payload.found.taskId, result: { _tag: "Succeeded", resultUrl: payload.found.resultUrl } }
        })),

      // A callback that comes while a poll is under way may carry news that poll missed.
      KieCallback: () =>
        Effect.gen(function*() {
          const current = FiberHandle.unsafeGet(running)
          if (Option.isSome(current)) yield* Fiber.await(current.value)
          yield* runOnce()
        }),

      Cancel: ({ payload }) =>
        Effect.gen(function*() {
          const row = yield* repo.get(jobId)
          if (Option.isNone(row) || Number(row.value.user_id) !== payload.userId) return "not-found" as const
          const before = yield* steps.stateOf(jobId)
          if (Option.isNone(before) || before.value === undefined || !isCancellable(before.value)) return "too-late" as const
          // Stop the step where it is (in the rate limit's queue, uploading); the machine takes
          // the Cancel only if the job still had not reached KIE. The refund is left to the
          // next wake-up (the job is due at once): the press that sent this is handled by the
          // user's entity, which the refund needs.
          const run = yield* lock.withPermits(1)(
            FiberHandle.clear(running).pipe(Effect.zipRight(start({ _tag: "Cancel" }, { eventOnly: true })))
          )
          yield* Fiber.await(run)
          const after = yield* repo.get(jobId)
          return Option.isSome(after) && after.value.outcome === "refund" && after.value.error_class === "Cancelled"
            ? "cancelled" as const
            : "too-late" as const
        }).pipe(Effect.orDie),

      GetState: () => repo.stateOf(jobId).pipe(Effect.orDie)
    })
  }).pipe(Effect.orDie),
  { maxIdleTime: entityIdleTime, concurrency: "unbounded" }
)

/**
 * KIE callbacks from the HTTP endpoint wake their job at once. KIE is answered only once
 * the job's row is due within `callbackGraceMs` too: the wake-up is volatile, and a runner
 * that died with it (the callback answered, the run not yet written) would otherwise leave
 * the job to its next safety poll, a minute or more away.
 */
export const JobCallbackSinkLive = Layer.effect(
  KieCallbackSink,
  Effect.gen(function*() {
    const jobs = yield* JobEntity.client
    const repo = yield* JobRepo
    return {
      wake: ({ jobId, taskId }) =>
        Effect.gen(function*() {
          const id = yield* Schema.decodeUnknown(JobId)(jobId)
          yield* repo.dueBy(id, (yield* Clock.currentTimeMillis) + callbackGraceMs)
          yield* jobs(id).KieCallback({ jobId: id, taskId }, { discard: true })
        })
    }
  })
).pipe(Layer.provide(JobRepo.Default))
