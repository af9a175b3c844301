/**
 * Wakes waiting jobs when they are due. On one runner at a time (a cluster singleton) it
 * claims the due rows in batches (each claim pushes the row's due time a lease ahead) and
 * sends each job a volatile `Wake`, without waiting for the job's step. A wake-up lost with
 * a runner, or a step that died, costs the lease: the row is due again when it runs out.
 * This replaces a live fiber per waiting job: a job waiting for KIE is only a row.
 */
import { Singleton } from "@effect/cluster"
import { Clock, Effect, Schedule } from "effect"
import { JobEntity } from "../protocols/job-protocol.js"
import { JobRepo } from "../storage/job-repo.js"
import { wakeLeaseMs, wakerBatch, wakerConcurrency, wakerInterval } from "./job-policy.js"

const wakeDueJobs = Effect.gen(function*() {
  const repo = yield* JobRepo
  const jobs = yield* JobEntity.client

  const wake = (jobId: Parameters<typeof jobs>[0]) =>
    jobs(jobId).Wake(undefined, { discard: true }).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("could not wake a due job; it is due again after its lease", cause)),
      Effect.annotateLogs({ jobId })
    )

  // A full batch means more are due: the next pass follows at once.
  const pass: Effect.Effect<number> = Effect.gen(function*() {
    const claimed = yield* repo.claimDue(yield* Clock.currentTimeMillis, wakeLeaseMs, wakerBatch)
    yield* Effect.forEach(claimed, wake, { concurrency: wakerConcurrency, discard: true })
    return claimed.length
  }).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("job waker pass failed", cause).pipe(Effect.as(0))),
    Effect.withSpan("JobWaker.pass")
  )

  yield* pass.pipe(
    Effect.repeat({ schedule: Schedule.spaced(wakerInterval), while: () => true }),
    Effect.asVoid
  )
})

export const JobWakerLive = Singleton.make("job-waker", wakeDueJobs)
