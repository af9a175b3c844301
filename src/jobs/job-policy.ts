/**
 * The numbers that shape a job's life, in one place so operators can read them and tests
 * can drive them with TestClock.
 */
import { Duration, Schedule } from "effect"
import type { KieError } from "../errors/kie-errors.js"
import type { TelegramError } from "../errors/telegram-errors.js"

/** KIE tasks per job: the first and one automatic resubmission when KIE, not the user, failed. */
export const generationAttempts = 2

/** How long a job may wait in `queued` while KIE is unusable for operator reasons. */
export const operatorWaitLimit = Duration.minutes(30)

/** Progress edits while generating: at most one per interval, and only when the text changes. */
export const progressEditInterval = Duration.seconds(30)
export const progressEditIntervalMs = Duration.toMillis(progressEditInterval)

/**
 * A video that would wait longer than this for Telegram's budget behind other users' first
 * answers waits without its job's entity (its due time, src/jobs/job-work.ts), and is looked
 * at again after the wait the backlog asks for, at most `videoDeferAtMost`. Shorter waits
 * stay in line: a deferral costs a write and a second activation (at 10 s, 2,000 photos at
 * once cost 0.8 commits and 14 % more CPU per delivered job: BENCHMARKS.md, "The threshold").
 */
export const videoDeferAfter = Duration.seconds(60)
export const videoDeferAtMost = Duration.minutes(2)

/** How long a video waits without its entity behind `answers` at `perSecond` messages/s (0: send it now). */
export const videoDeferral = (answers: number, perSecond: number): number => {
  const waitMs = (1000 * answers) / perSecond
  return waitMs <= Duration.toMillis(videoDeferAfter) ? 0 : Math.min(waitMs, Duration.toMillis(videoDeferAtMost))
}

/**
 * The delivery loop: the gateway already waits out 429s; this retries what is still
 * transient after that (5xx, network) a few times, then the job refunds.
 */
export const deliveryRetry: Schedule.Schedule<unknown, TelegramError> = Schedule.exponential("2 seconds", 2).pipe(
  Schedule.intersect(Schedule.recurs(4)),
  Schedule.whileInput((error: TelegramError) => error._tag === "TelegramTransientError")
)

/** Downloading the user's photo from Telegram before submission. */
export const photoDownloadRetry: Schedule.Schedule<unknown, TelegramError> = Schedule.exponential("1 second", 2).pipe(
  Schedule.intersect(Schedule.recurs(3)),
  Schedule.whileInput((error: TelegramError) => error._tag === "TelegramTransientError")
)

/**
 * How long a photo uploaded to KIE is reused by the same user's next job ("Generate
 * again"). KIE deletes uploads after 1–3 days; half a day stays clear of it.
 */
export const uploadReuseWindow = Duration.hours(12)

/**
 * A run of a job that died (a defect: the database went away, a write refused) starts over
 * after 5 s, then 10, 20, 30, 30… while it dies of the same failure.
 */
export const runRestartPause = (deaths: number): Duration.Duration =>
  Duration.millis(Math.min(5_000 * 2 ** Math.max(0, deaths - 1), 30_000))

/**
 * Deaths of the same deterministic or unknown failure in a row after which the job is
 * ended (refunded with an apology, or marked delivered when its video was sent) and
 * operators are alerted: about 2.5 minutes with the pauses above. Transient failures (the
 * database unreachable) never end a job; they only slow its restarts down.
 */
export const runFailureLimit = 8

/** How long the job first waits for the user entity's reply (balance, refund) before asking again. */
export const userEntityReplyTimeout = Duration.minutes(1)

/** The first pause before a settlement is asked again after a busy or interrupted reply. */
export const settlementRetryDelay = Duration.seconds(5)

/**
 * A settlement left unanswered is asked again under a new key, each time after twice the
 * previous wait (1, 2, 4, 8 minutes), then every 15 minutes for as long as it takes: each
 * ask is one more persisted message, so the rate of them must fall.
 */
export const settlementPatienceCap = Duration.minutes(15)

/** Unanswered settlement asks after which operators are alerted, about 15 minutes in. */
export const settlementAlertAfter = 4

/** What a KIE error class does to a job: one entry per class, so a class without one does not compile. */
export interface KieClassPolicy {
  /**
   * A task (or its creation) that failed with it: refund at once; resubmit while
   * `generationAttempts` allows; or wait in the queue while the circuit breaker is open
   * (refund when it is not: the error was about this request alone).
   */
  readonly generation: "refund" | "resubmit" | "wait-for-operator"
  /** A poll that failed with it: poll again soon (backing off), or keep the cadence (asking sooner fixes nothing). */
  readonly poll: "retry-soon" | "keep-cadence" | "task-failed"
}

/** The KIE calls themselves are retried by src/kie/retry-schedules.ts; this is what the job does after. */
export const kieClassPolicy: { readonly [Tag in KieError["_tag"]]: KieClassPolicy } = {
  KieUserError: { generation: "refund", poll: "task-failed" },
  KieTransientError: { generation: "resubmit", poll: "retry-soon" },
  KieOperatorError: { generation: "wait-for-operator", poll: "keep-cadence" },
  KieUnknownError: { generation: "resubmit", poll: "retry-soon" }
}

/**
 * How long a job's row says "not due" while a step works on it (ms), and so the most a
 * `kill -9` mid-step costs (the waker ends the leases sooner when it sees a runner gone,
 * ./job-waker.ts). A step longer than this (an upload with its retries, a video
 * send waiting out 429s) is woken again and the wake-up joins it on the same runner; on
 * another runner the row's version keeps its writes apart.
 */
export const wakeLeaseMs = 60_000

/**
 * The lease of a job whose photo waits in this runner's transfer queue (ms), renewed a third
 * of the way in. Longer than a step's: under a burst thousands wait, and a renewal is a row
 * written (at 60 s, 8 % of the rows a 10,000-photo burst wrote; BENCHMARKS.md). It costs
 * nothing when a runner goes: a stop makes its queue due, a gone runner's leases are ended
 * by the waker, a shard that moves has its jobs made due by the queue.
 */
export const queuedTransferLeaseMs = 10 * 60_000

/**
 * A job entity with nothing to do is reaped after this (the reaper looks every 5 s). Short:
 * it holds nothing between runs, and under a burst the entities of jobs just submitted were
 * most of the live ones (a heap snapshot of a 20,000-photo burst: 1,699 at 5 s).
 */
export const entityIdleTime = Duration.seconds(2)

/**
 * A KIE callback makes its polling job due this soon at the latest, before KIE is answered
 * (./job-entity.ts): the callback's own wake-up normally runs the job within milliseconds
 * and writes over it; should that wake-up die with its runner, the waker wakes the job
 * then. Longer than the KIE poll a callback's run makes (behind the rate limit under a
 * burst), so that the waker seldom asks KIE a second time.
 */
export const callbackGraceMs = 15_000

/** The waker looks this often for runners gone (and their steps' leases with them). */
export const goneRunnerLookInterval = Duration.seconds(3)

/** The waker looks for due jobs this often, and claims at most this many at a time. */
export const wakerInterval = Duration.seconds(1)
export const wakerBatch = 500

/** Wake-ups the waker has in flight at once. */
export const wakerConcurrency = 64

/**
 * A wait behind the KIE rate limit at least this long is shown, with Cancel (ms); a shorter
 * one is not: the button would be gone before it could be pressed.
 */
export const cancelOfferedAfterMs = 3_000

/** While KIE is paused for an operator, a queued job looks again this often (ms). */
export const operatorRecheck = 15_000
export const operatorWaitLimitMs = Duration.toMillis(operatorWaitLimit)

/** Past this much time since the photo, "generating" becomes "taking longer than usual" (ms). */
export const slowAfterMs = 5 * 60_000

/** A poll that failed (5xx, timeout) is repeated after 5 s, 10 s, 20 s, … never slower than the cadence. */
export const failedPollRetryAfterMs = 5_000

/**
 * The wait after `polls` polls of a running task (0: after its creation). Without
 * callbacks: 5 s growing by 1.5× to 30 s, so a task is polled 5, 12.5, 23.75 s… after its
 * creation. With callbacks, polling only catches one KIE never made (one a runner took
 * and died with is in the row: `callbackGraceMs`): 1 minute, doubling to 5
 * (with 10,000 jobs in flight, every second of interval is KIE traffic). After failed
 * polls the task may well be done, so the next poll comes sooner: a KIE blip must not
 * cost minutes.
 */
export const nextPollDelay = (at: { readonly polls: number; readonly failedPolls: number; readonly callbacksOn: boolean }): number => {
  const cadence = at.callbacksOn
    ? Math.min(60_000 * 2 ** at.polls, 300_000)
    : Math.min(5_000 * 1.5 ** at.polls, 30_000)
  return at.failedPolls > 0 ? Math.min(cadence, failedPollRetryAfterMs * 2 ** (at.failedPolls - 1)) : cadence
}
