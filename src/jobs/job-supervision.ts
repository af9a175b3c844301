/**
 * What happens when a run of a job dies (a defect: the database went away, a write the
 * database refuses): it starts over, slower each time. A run that keeps dying of the same
 * deterministic failure ends the job with what it has: a video already sent makes it
 * delivered, otherwise the decided refund gives the unit back with an apology; operators
 * are told once.
 */
import { type Cause, Effect, Exit, Metric, Option } from "effect"
import { OperatorAlerts } from "../alerts/operator-alerts.js"
import type { JobId } from "../domain/ids.js"
import { classifyFailure, describeFailure, type FailureDescription } from "../errors/failure-class.js"
import { jobDriverDeaths } from "../observability/metrics.js"
import { JobRepo } from "../storage/job-repo.js"
import { runFailureLimit, runRestartPause } from "./job-policy.js"

export const makeSupervision = (jobId: JobId) =>
  Effect.gen(function*() {
    const repo = yield* JobRepo
    const alerts = yield* OperatorAlerts
    let alerted = false

    const giveUp = (failure: FailureDescription, deaths: number) =>
      Effect.gen(function*() {
        const stored = yield* repo.get(jobId)
        if (Option.isNone(stored)) return
        const job = stored.value
        if (job.state === "delivered" || job.state === "refunded" || job.state === "failed") return
        const detail = `${failure.tag}${failure.code === undefined ? "" : ` ${failure.code}`}: ${failure.detail}`
        const expected = { version: job.version, state: job.state }
        const ending = job.video_message_id !== null
          ? yield* repo.advance(jobId, expected, { state: "delivered", changes: {}, dueAtMs: null, leasedAtMs: null, detail: `gave up: ${detail}` }).pipe(
            Effect.as("marked delivered (its video was sent)")
          )
          : job.outcome === "refund"
          ? "its refund is under way"
          : yield* repo.advance(jobId, expected, {
            state: job.state,
            changes: { outcome: "refund", error_class: "InternalError", error_detail: null },
            dueAtMs: 0,
            leasedAtMs: null,
            detail: `gave up: ${detail}`
          }).pipe(Effect.as("refunded"))
        if (alerted) return
        alerted = true
        yield* alerts.alert({
          subject: "a job's driver kept failing",
          detail: `job ${jobId} (user ${job.user_id}) died ${deaths} times in a row of ${detail}; ${ending}`
        })
      })

    /** Runs `run` until it succeeds, pausing after each death, ending the job after too many of the same. */
    const supervised = <A>(run: Effect.Effect<A>): Effect.Effect<A> =>
      Effect.gen(function*() {
        let deaths = 0
        let last = ""
        while (true) {
          const exit = yield* Effect.exit(run)
          if (Exit.isSuccess(exit)) return exit.value
          const cause: Cause.Cause<never> = exit.cause
          const failureClass = classifyFailure(cause)
          const failure = describeFailure(cause)
          // Numbers in a message (ids, counts, times) do not make it another failure.
          const fingerprint = `${failure.tag}|${failure.code ?? ""}|${failure.detail.replace(/\d+/g, "#")}`
          deaths = fingerprint === last ? deaths + 1 : 1
          last = fingerprint
          yield* Metric.increment(Metric.tagged(jobDriverDeaths, "failure_class", failureClass))
          yield* Effect.logError("job run died; running again", cause).pipe(Effect.annotateLogs({ jobId, failureClass, deaths }))
          if (failureClass !== "transient" && deaths >= runFailureLimit) {
            yield* giveUp(failure, deaths).pipe(
              Effect.catchAllCause((cause) => Effect.logError("could not end the job; it starts over", cause)),
              Effect.annotateLogs({ jobId })
            )
          }
          yield* Effect.sleep(runRestartPause(deaths))
        }
      })

    return { supervised } as const
  })
