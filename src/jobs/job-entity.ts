/**
 * JobEntity (id = job id) drives one generation from `queued` to `delivered`, `refunded`
 * or `failed` (see src/jobs/job-driver.ts for the steps).
 *
 * The driver runs in a fiber the entity owns, so the mailbox stays free: a `KieCallback`
 * reaches a polling job at once instead of queueing behind it. While the driver runs, the
 * entity keeps itself alive; that keep-alive is a persisted message, so a job whose runner
 * died is re-activated on its next owner and resumes from its stored state.
 */
import { Entity } from "@effect/cluster"
import { Clock, Duration, Effect, Exit, FiberHandle, Layer, Metric, Option, Queue, Ref, Schema } from "effect"
import { JobId } from "../domain/ids.js"
import { isTerminal, type JobState } from "../domain/job-state.js"
import { classifyFailure, describeFailure, type FailureDescription } from "../errors/failure-class.js"
import { KieCallbackSink } from "../kie/callback-sink.js"
import { OperatorAlerts } from "../alerts/operator-alerts.js"
import { type DriverPosition, isPatientPosition, makeJobDriver } from "./job-driver.js"
import { driverFailureLimit, driverRestartPause, stuckDriverReportAfter } from "./job-policy.js"
import { jobDriverDeaths } from "../observability/metrics.js"
import { JobEntity } from "../protocols/job-protocol.js"
import { type JobRecord, JobRepo } from "../storage/job-repo.js"

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
    const position = yield* Ref.make<DriverPosition>({ what: "starting", since: yield* Clock.currentTimeMillis })

    const alerts = yield* OperatorAlerts
    let alerted = false

    // The same failure too many times: the job ends with what it has. A video already sent
    // makes it delivered (its unit stays reserved, never refunded); otherwise the decided
    // refund lets the next driver give the unit back and apologise.
    const giveUp = (failure: FailureDescription, deaths: number) =>
      Effect.gen(function*() {
        const job = yield* repo.get(jobId)
        if (Option.isNone(job) || isTerminal(job.value.state)) return
        const detail = `${failure.tag}${failure.code === undefined ? "" : ` ${failure.code}`}: ${failure.detail}`
        const ending = job.value.video_message_id !== null
          ? yield* repo.transition(jobId, job.value.state, "delivered", {}, `driver gave up: ${detail}`).pipe(
            Effect.as("marked delivered (its video was sent)")
          )
          : job.value.outcome === "refund"
          ? "its refund is under way"
          : yield* repo.update(jobId, { outcome: "refund", error_class: "InternalError", error_detail: detail }).pipe(
            Effect.as("refunded")
          )
        if (alerted) return
        alerted = true
        yield* alerts.alert({
          subject: "a job's driver kept failing",
          detail: `job ${jobId} (user ${job.value.user_id}) died ${deaths} times in a row of ${detail}; ${ending}`
        })
      })

    // A driver that dies must not strand the job: log and start over, slower each time. It
    // dies of defects (the database went away, say) or of an interruption that is not its
    // own (a reply or a joined fiber that was interrupted), so the retry looks at the whole
    // cause. When the entity itself stops the driver, `exit` does not return: the
    // interruption ends this loop too.
    const run = Effect.gen(function*() {
      let deaths = 0
      let lastFailure = ""
      while (true) {
        const exit = yield* Effect.exit(drive(jobId, wake, position))
        if (Exit.isSuccess(exit)) return
        const failureClass = classifyFailure(exit.cause)
        const failure = describeFailure(exit.cause)
        // Numbers in a message (ids, counts, times) do not make it another failure.
        const fingerprint = `${failure.tag}|${failure.code ?? ""}|${failure.detail.replace(/\d+/g, "#")}`
        deaths = fingerprint === lastFailure ? deaths + 1 : 1
        lastFailure = fingerprint
        const at = yield* Ref.get(position)
        yield* Metric.increment(Metric.tagged(jobDriverDeaths, "failure_class", failureClass))
        yield* Effect.logError("job driver died; restarting", exit.cause).pipe(
          Effect.annotateLogs({ jobId, at: at.what, failureClass, deaths })
        )
        if (failureClass !== "transient" && deaths >= driverFailureLimit) {
          yield* giveUp(failure, deaths).pipe(
            Effect.catchAllCause((cause) => Effect.logError("could not end the job; its driver starts over", cause)),
            Effect.annotateLogs({ jobId })
          )
        }
        yield* Effect.sleep(driverRestartPause(deaths))
      }
    }).pipe(Effect.ensuring(keepAlive(false)))

    const ensureRunning = keepAlive(true).pipe(
      Effect.zipRight(FiberHandle.run(driver, run, { onlyIfMissing: true })),
      Effect.asVoid
    )

    // The watchdog wakes jobs whose row has not changed for a while; most are polling a
    // long generation. One whose live driver sits anywhere else for that long is stuck:
    // say where, so that the place can be found (nothing else shows it).
    const reportStuckDriver = (state: JobState) =>
      Effect.gen(function*() {
        const at = yield* Ref.get(position)
        const stuckFor = (yield* Clock.currentTimeMillis) - at.since
        if (isPatientPosition(at) || stuckFor < Duration.toMillis(stuckDriverReportAfter)) return
        yield* Effect.logWarning("job driver has not moved").pipe(
          Effect.annotateLogs({ jobId, state, at: at.what, stuckForSeconds: Math.round(stuckFor / 1000) })
        )
      })

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

      Cancel: ({ payload }) =>
        Effect.gen(function*() {
          const cancellable = (job: Option.Option<JobRecord>) =>
            Option.isSome(job) && job.value.kie_task_id === null && job.value.outcome === null &&
            (job.value.state === "queued" || job.value.state === "submitting")
          const before = yield* repo.get(jobId)
          if (Option.isNone(before) || Number(before.value.user_id) !== payload.userId) return "not-found" as const
          if (!cancellable(before)) return "too-late" as const
          // Stop the driver where it is, then look again: it may have created the task meanwhile.
          yield* FiberHandle.clear(driver)
          if (cancellable(yield* repo.get(jobId))) {
            yield* repo.update(jobId, { outcome: "refund", error_class: "Cancelled", error_detail: null })
          }
          yield* ensureRunning
          return cancellable(before) && Option.getOrUndefined(yield* repo.get(jobId))?.error_class === "Cancelled"
            ? "cancelled" as const
            : "too-late" as const
        }).pipe(Effect.orDie),

      GetState: () => repo.stateOf(jobId).pipe(Effect.orDie),

      Resume: () =>
        Effect.gen(function*() {
          const state = yield* repo.stateOf(jobId)
          if (Option.isNone(state) || isTerminal(state.value)) return false
          if (Option.isSome(FiberHandle.unsafeGet(driver))) yield* reportStuckDriver(state.value)
          yield* ensureRunning
          return true
        }).pipe(Effect.orDie)
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
