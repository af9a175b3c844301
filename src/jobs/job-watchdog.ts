/**
 * A job resumes after a crash through its persisted keep-alive message. When several
 * runners die in quick succession that message can be lost in the shard hand-over, and
 * nothing would ever wake the job again. The watchdog closes
 * that gap: on one runner at a time it looks for unfinished jobs whose row has not changed
 * for a while and sends each a volatile `Resume`. A job whose driver is alive ignores it
 * (the driver is already running); one without a driver starts from its stored state.
 */
import { Singleton } from "@effect/cluster"
import { Duration, Effect, Layer, Schedule } from "effect"
import { JobEntity } from "../protocols/job-protocol.js"
import { AppConfig } from "../config/index.js"
import { JobRepo } from "../storage/job-repo.js"

/** Jobs woken per pass at most; the rest wait for the next pass, oldest first. */
export const watchdogBatch = 500

const watch = Effect.gen(function*() {
  const { jobs: timings } = yield* AppConfig
  const repo = yield* JobRepo
  const jobs = yield* JobEntity.client

  const resume = (jobId: Parameters<typeof jobs>[0]) =>
    jobs(jobId).Resume().pipe(
      Effect.timeout(Duration.seconds(30)),
      Effect.catchAllCause((cause) => Effect.logWarning("could not wake a stalled job; next pass retries", cause).pipe(Effect.as(false))),
      Effect.annotateLogs({ jobId })
    )

  const pass = Effect.gen(function*() {
    const stalled = yield* repo.stalledJobs(timings.staleAfterMs, watchdogBatch)
    if (stalled.length === 0) return
    const woken = yield* Effect.forEach(stalled, resume, { concurrency: 16 })
    // Woken means the job had work left; most are polling jobs whose driver was alive anyway.
    yield* Effect.logInfo("job watchdog pass").pipe(
      Effect.annotateLogs({ stalled: stalled.length, unfinished: woken.filter(Boolean).length })
    )
  }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("job watchdog pass failed", cause)))

  yield* pass.pipe(Effect.repeat(Schedule.spaced(Duration.millis(timings.watchdogIntervalMs))))
})

export const JobWatchdogLive = Singleton.make("job-watchdog", watch).pipe(Layer.provide(JobRepo.Default))
