/**
 * JobEntity (id = job id) runs one generation's state machine (./job-machine.ts, run by
 * ./job-steps.ts).
 *
 * The runs happen in a fiber the entity owns, so the mailbox stays free: a `KieCallback`
 * or a `Cancel` reaches a job at once instead of queueing behind its step. While the job
 * is unfinished the entity keeps itself alive; that keep-alive is a persisted message, so a
 * job whose runner died is re-activated on its next owner and resumes from its stored row.
 */
import { Entity } from "@effect/cluster"
import { Clock, Duration, Effect, FiberHandle, Layer, Option, Queue, Schema } from "effect"
import { JobId } from "../domain/ids.js"
import { KieCallbackSink } from "../kie/callback-sink.js"
import { JobEntity } from "../protocols/job-protocol.js"
import { JobRepo } from "../storage/job-repo.js"
import { TelegramGateway } from "../telegram/gateway.js"
import { makeAcknowledgement } from "./job-acknowledgement.js"
import { isCancellable, isFinished } from "./job-machine.js"
import { JobSteps } from "./job-steps.js"
import { makeSupervision } from "./job-supervision.js"

export const JobEntityLive = JobEntity.toLayer(
  Effect.gen(function*() {
    const address = yield* Entity.CurrentAddress
    const jobId = JobId.make(address.entityId)
    const repo = yield* JobRepo
    const steps = yield* JobSteps
    const acknowledgement = yield* makeAcknowledgement(jobId, yield* TelegramGateway, repo)
    const context = yield* Effect.context<never>()
    const keepAlive = (enabled: boolean) => Effect.provide(Entity.keepAlive(enabled) as Effect.Effect<void>, context)

    const wake = yield* Queue.sliding<void>(1)
    const driver = yield* FiberHandle.make<void, never>()

    const { supervised } = yield* makeSupervision(jobId)

    // Runs until finished, waiting between runs for the due time or a wake-up.
    const drive = Effect.gen(function*() {
      while (true) {
        const state = yield* supervised(steps.run(jobId, acknowledgement))
        if (Option.isNone(state) || isFinished(state.value)) return
        const row = yield* repo.get(jobId).pipe(Effect.orDie)
        const due = Option.match(row, { onNone: () => null, onSome: (job) => job.due_at_ms })
        if (due === null) return
        const wait = Number(due) - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.raceFirst(Effect.sleep(Duration.millis(wait)), Queue.take(wake))
      }
    }).pipe(Effect.ensuring(keepAlive(false)))

    const ensureRunning = keepAlive(true).pipe(Effect.zipRight(FiberHandle.run(driver, drive, { onlyIfMissing: true })), Effect.asVoid)

    const unfinished = Effect.map(steps.stateOf(jobId), (state) => Option.isSome(state) && state.value !== undefined && !isFinished(state.value))

    if (yield* unfinished) yield* ensureRunning
    // A keep-alive left unanswered by a crash would otherwise pin a finished job.
    else yield* keepAlive(false)

    return JobEntity.of({
      Start: () =>
        Effect.gen(function*() {
          const state = yield* repo.stateOf(jobId)
          if (Option.isNone(state)) return "failed" as const
          if (yield* unfinished) yield* ensureRunning
          return state.value
        }).pipe(Effect.orDie),

      KieCallback: () =>
        Effect.gen(function*() {
          if (!(yield* unfinished)) return
          yield* ensureRunning
          yield* Queue.offer(wake, undefined)
        }),

      Cancel: ({ payload }) =>
        Effect.gen(function*() {
          const row = yield* repo.get(jobId)
          if (Option.isNone(row) || Number(row.value.user_id) !== payload.userId) return "not-found" as const
          const before = yield* steps.stateOf(jobId)
          if (Option.isNone(before) || before.value === undefined || !isCancellable(before.value)) return "too-late" as const
          // Stop the run where it is; the Cancel event is then taken only if the job still had not reached KIE.
          yield* FiberHandle.clear(driver)
          yield* steps.run(jobId, acknowledgement, { _tag: "Cancel" })
          yield* ensureRunning
          const after = yield* repo.get(jobId)
          return Option.isSome(after) && after.value.outcome === "refund" && after.value.error_class === "Cancelled"
            ? "cancelled" as const
            : "too-late" as const
        }).pipe(Effect.orDie),

      GetState: () => repo.stateOf(jobId).pipe(Effect.orDie),

      Resume: () =>
        Effect.gen(function*() {
          if (!(yield* unfinished)) return false
          yield* ensureRunning
          return true
        })
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
