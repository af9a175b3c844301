/**
 * How a job just admitted (src/users/user-admission.ts) starts: its entity is woken with
 * the row. When its photo has to wait for a file-transfer permit (a burst), the runner
 * instead posts the job's progress message and queues the photo itself
 * (./photo-uploads.ts); the job's entity is first activated once the photo is at KIE. An
 * activation costs milliseconds of CPU (BENCHMARKS.md): one per job, not two.
 *
 * Only for a job whose entity lives on this runner: the progress message's state is kept by
 * the process that posts it (./job-acknowledgement.ts), and the job's own runs must find it
 * there, or they would post a second one. Other jobs are woken and queue on their runner.
 *
 * A wake of a job on another runner is answered only when that runner's run of it returns
 * (the cluster replies to a volatile request after its handler): the transfer of the photo
 * and the KIE submission. So it goes on in the background, not in the user's entity, which
 * handles one message at a time: waiting there would hold the user's next update back, and
 * a run that ends in a refund asks that same entity, which would wait for it in turn.
 */
import { Context, Duration, Effect, FiberSet, Layer } from "effect"
import { JobId } from "../domain/ids.js"
import { hostsEntity } from "../cluster/hosts-entity.js"
import { JobEntity } from "../protocols/job-protocol.js"
import type { JobRecord } from "../storage/job-repo.js"
import { ProgressMessages } from "./job-acknowledgement.js"
import { JobSteps } from "./job-steps.js"

export class JobStarts extends Context.Tag("app/jobs/JobStarts")<JobStarts, {
  /** Starts the job of `row`, as its admission wrote it. */
  readonly start: (row: JobRecord) => Effect.Effect<void>
}>() {
  /** Only the wake-up: for runners without the jobs' machinery (tests of the ledger). */
  static readonly wakeOnly = Layer.effect(
    JobStarts,
    Effect.map(JobEntity.client, (jobs) => ({
      start: (row: JobRecord) => jobs(JobId.make(row.id)).Wake({ row }, { discard: true }).pipe(Effect.orDie)
    }))
  )
}

/**
 * How long a background wake of a job on another runner may wait for that run before it is
 * let go (the run itself goes on there). Only a bound on what this runner keeps: a wake that
 * never came through leaves the job to the waker at its first due time.
 */
const remoteWakePatience = Duration.minutes(5)

export const JobStartsLive = Layer.scoped(
  JobStarts,
  Effect.gen(function*() {
    const steps = yield* JobSteps
    const progressMessages = yield* ProgressMessages
    const jobs = yield* JobEntity.client
    const isLocal = yield* hostsEntity(JobEntity)
    const remoteWakes = yield* FiberSet.make()
    return {
      start: (row: JobRecord) =>
        Effect.gen(function*() {
          const jobId = JobId.make(row.id)
          const wake = jobs(jobId).Wake({ row }, { discard: true })
          if (!isLocal(jobId)) {
            yield* FiberSet.run(
              remoteWakes,
              wake.pipe(
                Effect.timeout(remoteWakePatience),
                Effect.catchAllCause((cause) =>
                  Effect.logDebug("a new job's wake on another runner failed; the waker runs it when it is due", cause)
                )
              )
            )
            return
          }
          if (yield* steps.queueNew(row, progressMessages.of(jobId))) return
          // On this runner the wake returns once it is in the job entity's mailbox.
          yield* wake.pipe(Effect.orDie)
        })
    }
  })
)
