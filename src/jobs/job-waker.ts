/**
 * Wakes waiting jobs when they are due. On one runner at a time (a cluster singleton) it
 * claims the due rows in batches (each claim pushes the row's due time a lease ahead) and
 * sends each job a volatile `Wake`, without waiting for the job's step (a due poll it makes
 * itself, below, and waits for). A job on another runner is woken in the background
 * (src/cluster/remote-wakes.ts): that runner answers only once its run is over, and a pass
 * that waited would start the next batch only after the slowest run of this one. A wake-up lost with
 * a runner, or a step that died, costs the lease: the row is due again when it runs out.
 * This replaces a live fiber per waiting job: a job waiting for KIE is only a row.
 *
 * A due poll that finds nothing new is the commonest wake-up by far (a job is polled about
 * eight times while KIE generates), and it needs no actor: it asks KIE, writes the next due
 * time (and perhaps edits the progress message) guarded by the row's version, and is done;
 * polls that end together are written in one statement (./job-steps.ts). The
 * waker does those itself (`pollsOnly`, ./job-steps.ts), so a polling job's entity is not
 * activated, and kept in memory until it is reaped, once per poll. News (the video, a
 * failure, the deadline) wakes the entity to act on it; a video found goes with the
 * wake-up, rarer news the entity asks KIE about again.
 */
import { Singleton } from "@effect/cluster"
import { Clock, Effect, Schedule } from "effect"
import { liveRunnerAddresses } from "../cluster/live-runners.js"
import { makeWakeSender } from "../cluster/remote-wakes.js"
import { AppConfig } from "../config/index.js"
import { JobId } from "../domain/ids.js"
import { JobEntity } from "../protocols/job-protocol.js"
import { type JobRecord, JobRepo } from "../storage/job-repo.js"
import { ProgressMessages } from "./job-acknowledgement.js"
import { goneRunnerLookInterval, wakeLeaseMs, wakerBatch, wakerConcurrency, wakerInterval } from "./job-policy.js"
import { JobSteps } from "./job-steps.js"

const wakeDueJobs = Effect.gen(function*() {
  const repo = yield* JobRepo
  const steps = yield* JobSteps
  const progressMessages = yield* ProgressMessages
  const jobs = yield* JobEntity.client
  const send = yield* makeWakeSender(JobEntity, "wait")

  // A queued or polling job's row goes with its wake, so its run reads nothing first. Only
  // those: should the row be stale by the time the run starts (another run wrote it since),
  // a queued job's first step is a write guarded by the row's version, and a poll only asks
  // KIE before such a write; the write fails and the run stops. A stale row in another
  // state could send a video or create a task again before its first write.
  const wake = (row: JobRecord, found?: { readonly taskId: string; readonly resultUrl: string }) =>
    send(
      row.id,
      jobs(row.id).Wake({ ...(row.state === "polling" || row.state === "queued" ? { row } : {}), found }, {
        discard: true
      }),
      (cause) => Effect.logWarning("could not wake a due job; it is due again after its lease", cause)
    ).pipe(Effect.annotateLogs({ jobId: row.id }))

  // Only a job whose progress message is out (its entity may still be posting it otherwise)
  // and whose deadline is ahead (the last poll retries, and then the job refunds).
  const pollsHere = (row: JobRecord, now: number) =>
    row.state === "polling" && row.progress_message_id !== null && row.poll_deadline_ms !== null &&
    Number(row.poll_deadline_ms) > now

  const pollOrWake = (row: JobRecord, now: number) => {
    if (!pollsHere(row, now)) return wake(row)
    const jobId = JobId.make(row.id)
    return steps.run(jobId, progressMessages.of(jobId), undefined, {
      row,
      // The row as this run left it goes with the wake-up, so the entity reads nothing first
      // (the claimed row would be stale after a poll this run wrote: the entity's first write
      // would fail on its version, and the job wait out its lease). A video found goes with
      // it; other news (a failure, the deadline) the entity asks KIE again.
      pollsOnly: {
        handOver: (state, event, current) =>
          wake(
            current,
            state._tag === "Polling" && event._tag === "Polled" && event.result._tag === "Succeeded"
              ? { taskId: state.taskId, resultUrl: event.result.resultUrl }
              : undefined
          )
      }
    }).pipe(
      Effect.asVoid,
      Effect.catchAllCause((cause) => Effect.logWarning("a poll from the waker failed; the job is due again after its lease", cause)),
      Effect.annotateLogs({ jobId: row.id })
    )
  }

  // One batch a second at most, even when more are due: under a backlog a pass that
  // followed at once would activate thousands of entities together.
  const pass: Effect.Effect<number> = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const claimed = yield* repo.claimDue(now, wakeLeaseMs, wakerBatch)
    yield* Effect.forEach(claimed, (row) => pollOrWake(row, now), { concurrency: wakerConcurrency, discard: true })
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

/**
 * A step holds its job with a lease (`wakeLeaseMs`), which a runner that dies mid-step
 * leaves behind: its jobs would wait the lease out, a minute with nothing happening. The
 * waker ends the leases when it starts (the runner it ran on before may be gone; on SQLite
 * the process itself restarted), before its first pass, and whenever a runner it saw live
 * is gone. The rows do not say who holds a lease, so every lease taken by then ends: a
 * live runner's step meets one more wake-up. Wake-ups for the gone runner's shards wait in
 * the cluster until the survivors own them.
 *
 * "Gone" is the cluster's own test: a heartbeat older than the shard lock expiration, when
 * the runner's shards move too. A runner that stalls that long but lives on loses its shards
 * and its steps' leases together, and a step it finishes afterwards may repeat one the new
 * owner made (a second KIE task or video); the row's version still lets one of them write.
 */
const endLeases = (reason: string) =>
  Effect.gen(function*() {
    const ended = yield* Effect.flatMap(JobRepo, (repo) => Effect.flatMap(Clock.currentTimeMillis, repo.endLeases))
    if (ended > 0) yield* Effect.logInfo(`${ended} job(s) due now instead of at the end of their lease: ${reason}`)
  }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("could not end job leases", cause)))

const endLeasesOfGoneRunners = Effect.gen(function*() {
  const { cluster } = yield* AppConfig
  let seen: ReadonlySet<string> | undefined
  const look = Effect.gen(function*() {
    // A failed read changes nothing: only runners seen in a read and missing from the next are gone.
    const live = new Set(yield* liveRunnerAddresses(cluster.shardLockExpirationMs))
    const gone = seen === undefined ? [] : [...seen].filter((address) => !live.has(address))
    seen = live
    if (gone.length > 0) yield* endLeases(`runner(s) gone: ${gone.join(", ")}`)
  })
  yield* look.pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("could not look for gone runners", cause)),
    Effect.repeat({ schedule: Schedule.spaced(goneRunnerLookInterval), while: () => true }),
    Effect.asVoid
  )
})

export const JobWakerLive = Singleton.make(
  "job-waker",
  Effect.gen(function*() {
    yield* endLeases("the job waker started")
    // On SQLite this process is the only runner: no other one can go.
    const { database } = yield* AppConfig
    if (database._tag === "Sqlite") return yield* wakeDueJobs
    yield* Effect.all([wakeDueJobs, endLeasesOfGoneRunners], { concurrency: "unbounded", discard: true })
  })
)
