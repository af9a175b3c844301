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
 * A wake of a job on another runner is answered only once that runner's run of it returns
 * (the photo's transfer and the KIE submission); it goes on in the background
 * (src/cluster/remote-wakes.ts), not in the user's entity, which handles one message at a
 * time: waiting there would hold the user's next update back, and a run that ends in a
 * refund asks that same entity, which would wait for it in turn. With too many such wakes
 * under way the new job is left to the waker, which runs it at its first due time.
 */
import { Context, Effect, Layer } from "effect"
import { JobId } from "../domain/ids.js"
import { hostsEntity } from "../cluster/hosts-entity.js"
import { makeWakeSender } from "../cluster/remote-wakes.js"
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

export const JobStartsLive = Layer.scoped(
  JobStarts,
  Effect.gen(function*() {
    const steps = yield* JobSteps
    const progressMessages = yield* ProgressMessages
    const jobs = yield* JobEntity.client
    const isLocal = yield* hostsEntity(JobEntity)
    const send = yield* makeWakeSender(JobEntity, "leave")
    return {
      start: (row: JobRecord) =>
        Effect.gen(function*() {
          const jobId = JobId.make(row.id)
          if (isLocal(jobId) && (yield* steps.queueNew(row, progressMessages.of(jobId)))) return
          yield* send(
            jobId,
            jobs(jobId).Wake({ row }, { discard: true }),
            (cause) => Effect.logWarning("could not wake the new job; the waker runs it when it is due", cause)
          )
        })
    }
  })
)
