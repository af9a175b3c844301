/**
 * A job's photo from Telegram to KIE, done outside the job's entity when it has to wait.
 *
 * The bytes are held from the download to the end of the upload, under one of the runner's
 * file-transfer permits (./transfer-permits.ts). With a permit free the job's run does the
 * transfer itself. Otherwise the job joins this runner's queue and its run ends: under a
 * burst thousands of jobs wait here, and an entity kept alive for each wait cost ~130 KB
 * (BENCHMARKS.md). One worker per permit takes the queue in order, keeps the outcome in
 * memory and wakes the job, whose next run takes it and creates the KIE task.
 *
 * A new job waits here still `queued` (`readyToSubmit`): its state and version stay as they
 * were until the photo is at KIE, so the wake-up carries the row and the run reads nothing (a
 * queued job's first step is a write guarded by the row's version: a Cancel meanwhile makes
 * it fail). Only after a short wait, and only to an entity on this runner: the row's progress
 * message id is written without a version, and is known here, beside the entity, only for a
 * while (./job-acknowledgement.ts); a run without it would post the message again. A job
 * already `submitting` (a run cut off mid-step) queues too (`uploadOf`) and its run reads its
 * row again when woken.
 *
 * While a job waits here its row's lease (./job-policy.ts, `queuedTransferLeaseMs`) is kept
 * running, so the waker leaves it alone, as long as its entity is on this runner; one whose
 * shard moved is made due at once and leaves the queue, and queues on its new runner. A
 * runner that stops takes its queue with it: on the way out it makes the queue's jobs due
 * at once; after a `kill -9` the waker ends its leases (./job-waker.ts). Any runner gone
 * ends every lease, so each queued job then gets one wake-up that finds it queued. A
 * transfer that died is due again after a step's lease (`wakeLeaseMs`).
 */
import { Cause, Clock, Effect, Either, Metric, Option, Queue, Schedule } from "effect"
import type { JobId } from "../domain/ids.js"
import type { JobFailure } from "../domain/job-failure.js"
import type { KieError } from "../errors/kie-errors.js"
import { KieCircuitBreaker } from "../kie/circuit-breaker.js"
import { KieSubmitter } from "../kie/kie-submitter.js"
import { hostsEntity } from "../cluster/hosts-entity.js"
import { JobEntity } from "../protocols/job-protocol.js"
import { type JobRecord, JobRepo } from "../storage/job-repo.js"
import { TelegramGateway } from "../telegram/gateway.js"
import { failureOf } from "./job-machine.js"
import { photoDownloadRetry, queuedTransferLeaseMs, wakeLeaseMs } from "./job-policy.js"
import { TransferPermits, transfersWaiting } from "./transfer-permits.js"

/** The photo's URL at KIE, or why it did not get there (with KIE's error, when KIE refused it). */
export type PhotoUpload = Either.Either<string, { readonly failure: JobFailure; readonly kie: KieError | null }>

interface Queued {
  readonly jobId: JobId
  readonly photoFileId: string
  /** A queued job's row as it joined: its wake-up carries it, when fresh enough (see above). */
  readonly row: JobRecord | undefined
  readonly queuedAtMs: number
}

/** An outcome its job has not come for within this time is dropped (the job was cancelled, or runs elsewhere). */
const keptForMs = 10 * 60_000

/**
 * The queue looks this often for leases to keep, and for jobs whose shard moved: a new
 * job's first due time is 5 s after its admission (src/storage/job-repo.ts), and each lease
 * is renewed a third of the way in.
 */
const leaseKeeperInterval = "2 seconds"
const renewAfterMs = queuedTransferLeaseMs / 3
const queuedStates = ["queued", "submitting"] as const

/** How often a worker held back by KIE's createTask limit looks again. */
const holdBackStep = "500 millis"

/** A wake-up carries the row only within this time (less than the progress messages' memory of a job). */
const rowFreshForMs = 5 * 60_000

/**
 * Of the queue's jobs (each with when its lease was last renewed), those whose lease is due
 * for renewal, and those whose shard has moved to another runner.
 */
export const leasesToKeep = (waiting: ReadonlyMap<JobId, number>, now: number, isLocal: (jobId: JobId) => boolean) => {
  const due: Array<JobId> = []
  const moved: Array<JobId> = []
  for (const [jobId, renewedAt] of waiting) {
    if (!isLocal(jobId)) moved.push(jobId)
    else if (renewedAt <= now - renewAfterMs) due.push(jobId)
  }
  return { due, moved }
}

export const makePhotoUploads = Effect.gen(function*() {
  const gateway = yield* TelegramGateway
  const submitter = yield* KieSubmitter
  const breaker = yield* KieCircuitBreaker
  const transfers = yield* TransferPermits
  const repo = yield* JobRepo
  const jobs = yield* JobEntity.client
  const isLocal = yield* hostsEntity(JobEntity)

  const transfer = (photoFileId: string): Effect.Effect<PhotoUpload> =>
    transfers.withPermit(Effect.gen(function*() {
      const photo = yield* gateway.downloadFile(photoFileId).pipe(Effect.retry(photoDownloadRetry), Effect.either)
      if (photo._tag === "Left") return Either.left({ failure: { _tag: "PhotoUnavailable", reason: photo.left.reason } as const, kie: null })
      return Either.mapLeft(
        yield* breaker.observe(submitter.uploadFile(photo.right)).pipe(Effect.either),
        (error) => ({ failure: failureOf(error), kie: error })
      ).pipe(Either.map((file) => file.url))
    }))

  const queue = yield* Queue.unbounded<Queued>()
  /** Jobs in the queue or being transferred by a worker, with when their lease was last renewed (-Infinity: not yet). */
  const waiting = new Map<JobId, number>()
  /** Outcomes not yet taken, oldest first (a Map keeps insertion order). */
  const finished = new Map<JobId, { readonly upload: PhotoUpload; readonly atMs: number }>()

  const keep = (jobId: JobId, upload: PhotoUpload) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      for (const [id, kept] of finished) {
        if (kept.atMs > now - keptForMs) break
        finished.delete(id)
      }
      finished.set(jobId, { upload, atMs: now })
    })

  const work = ({ jobId, photoFileId, queuedAtMs, row }: Queued) =>
    Effect.gen(function*() {
      // A job cancelled while it waited still has its photo sent (the rarer waste), rather
      // than every job paying a read of its row here.
      yield* keep(jobId, yield* transfer(photoFileId))
      waiting.delete(jobId)
      // Volatile: a wake lost on its way costs the job its lease, after which the waker runs it.
      const fresh = row !== undefined && (yield* Clock.currentTimeMillis) - queuedAtMs < rowFreshForMs && isLocal(jobId)
      yield* jobs(jobId).Wake(fresh ? { row } : {}, { discard: true })
    }).pipe(
      Effect.ensuring(Effect.sync(() => waiting.delete(jobId))),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logWarning("a queued photo transfer failed; the job runs again after a step's lease", cause).pipe(
            Effect.zipRight(repo.extendLeases([jobId], queuedStates, wakeLeaseMs).pipe(Effect.ignore))
          )
      ),
      Effect.annotateLogs({ jobId })
    )

  // Under a burst KIE's createTask limit sets the pace, not the transfers. A photo sent to KIE
  // while 2 s of submissions already wait for their place would only make its job
  // wait too, in a run that keeps its entity alive (BENCHMARKS.md: ~2,500 job entities at
  // once in a 10,000 burst): the workers hold back meanwhile, and the jobs wait here, a row each.
  const holdBack = Effect.gen(function*() {
    while (yield* submitter.placesSpokenFor) yield* Effect.sleep(holdBackStep)
  })
  // An entry no longer waiting left the queue when its shard moved.
  const worker = Queue.take(queue).pipe(
    Effect.tap(() => Metric.incrementBy(transfersWaiting, -1)),
    Effect.flatMap((entry) => waiting.has(entry.jobId) ? Effect.zipRight(holdBack, work(entry)) : Effect.void),
    Effect.forever
  )
  yield* Effect.forkScoped(Effect.all(Array.from({ length: transfers.permits }, () => worker), { concurrency: "unbounded" }))

  // One statement per 500 jobs, instead of a wake-up per job and lease. A job whose shard
  // moved is due at once for its new runner, not after the rest of a long lease.
  const keepLeases = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const { due, moved } = leasesToKeep(waiting, now, isLocal)
    if (moved.length > 0) {
      yield* repo.extendLeases(moved, queuedStates, 0)
      for (const jobId of moved) waiting.delete(jobId)
      yield* Effect.logInfo(`${moved.length} queued photo transfer(s) left to the runners their jobs moved to`)
    }
    if (due.length === 0) return
    yield* repo.extendLeases(due, queuedStates, queuedTransferLeaseMs)
    for (const jobId of due) if (waiting.has(jobId)) waiting.set(jobId, now)
  })
  yield* keepLeases.pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logWarning("could not keep the leases of queued photo transfers", cause)
    ),
    Effect.repeat(Schedule.spaced(leaseKeeperInterval)),
    Effect.forkScoped
  )

  // At once: a job marked waiting with no entry in the queue would wait for ever.
  const enqueue = (entry: Omit<Queued, "queuedAtMs">) =>
    Effect.flatMap(Clock.currentTimeMillis, (queuedAtMs) =>
      Effect.sync(() => {
        waiting.set(entry.jobId, Number.NEGATIVE_INFINITY)
        queue.unsafeOffer({ ...entry, queuedAtMs })
      })).pipe(Effect.zipRight(Metric.increment(transfersWaiting)), Effect.uninterruptible)

  // Stopping: the queue's jobs are due at once, for whichever runner takes their shards.
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() =>
      waiting.size === 0 ? Effect.void : repo.extendLeases([...waiting.keys()], queuedStates, 0)
    ).pipe(Effect.timeout("2 seconds"), Effect.ignore)
  )

  return {
    /**
     * For a queued job about to be submitted: true when it may go on (its photo is at KIE,
     * its queued transfer is done, or a permit is free for its run); false when its photo
     * waits in the queue (from now or from before), and the queue wakes the job with `row`
     * once it is done.
     */
    readyToSubmit: (row: JobRecord): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        const jobId = row.id as JobId
        if (row.kie_file_url !== null || finished.has(jobId)) return true
        if (waiting.has(jobId)) return false
        if (yield* transfers.free) return true
        yield* enqueue({ jobId, photoFileId: row.photo_file_id, row })
        return false
      }),

    /**
     * The job's photo at KIE: transferred now when a permit is free, or the outcome of an
     * earlier transfer; none when the transfer is queued (now or earlier), and the job is
     * woken once it is done.
     */
    uploadOf: (jobId: JobId, photoFileId: string): Effect.Effect<Option.Option<PhotoUpload>> =>
      Effect.gen(function*() {
        const kept = finished.get(jobId)
        if (kept !== undefined) {
          finished.delete(jobId)
          return Option.some(kept.upload)
        }
        if (waiting.has(jobId)) return Option.none()
        if (yield* transfers.free) return Option.some(yield* transfer(photoFileId))
        yield* enqueue({ jobId, photoFileId, row: undefined })
        return Option.none()
      })
  } as const
})
