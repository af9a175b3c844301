/**
 * How often each class of KIE failure is retried, in one place so operators can read it
 * and tests can drive it with TestClock. User and operator errors are never retried here:
 * the user must change something, or an operator must (and the circuit breaker waits).
 */
import { Duration, Effect, Schedule } from "effect"
import type { KieError } from "../errors/kie-errors.js"
import { isTransient, isUnknown } from "./classify.js"

/**
 * Transient: 10 s, 20 s, 40 s, 80 s, 120 s (capped), each stretched by 0–30 % jitter so
 * that runners that failed together do not retry together. It starts at 10 s because a
 * 429 means KIE's 10-second window is full (so back off at least one window),
 * and jitter only ever lengthens the wait so that guarantee holds. Five retries span
 * about five minutes, after which the job gives up and refunds.
 */
export const transientBase = Duration.seconds(10)
export const transientCapFactor = 12
export const transientRetries = 5
export const transientJitter = { min: 1, max: 1.3 } as const

/** The transient schedule from another first wait (KIE_RETRY_BASE); the cap stays 12 times it. */
export const transientRetryFrom = (base: Duration.Duration): Schedule.Schedule<Duration.Duration, KieError> =>
  Schedule.exponential(base, 2).pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.times(base, transientCapFactor))),
    Schedule.jitteredWith(transientJitter),
    Schedule.intersect(Schedule.recurs(transientRetries)),
    Schedule.map(([delay]) => delay),
    Schedule.whileInput(isTransient)
  )

/**
 * Unknown: two more tries, 5 s apart (KIE's 500s are sometimes validation, so more would
 * loop). A createTask whose outcome is unknown is excluded: the task may exist, and a
 * resubmission may be charged twice; the job decides after reconciling.
 */
export const unknownRetries = 2
export const unknownRetry: Schedule.Schedule<number, KieError> = Schedule.spaced("5 seconds").pipe(
  Schedule.intersect(Schedule.recurs(unknownRetries)),
  Schedule.map(([n]) => n),
  Schedule.whileInput((e: KieError) => isUnknown(e) && e.reason !== "SubmitOutcomeUnknown")
)

/**
 * Applies the right schedule to a KIE call by the class of its failure. The unknown
 * retry wraps the transient one, so a call sees at most (1 + 2) × (1 + 5) attempts.
 */
export const retryKieFrom = (base: Duration.Duration) => {
  const transient = transientRetryFrom(base)
  return <A, R>(effect: Effect.Effect<A, KieError, R>): Effect.Effect<A, KieError, R> =>
    effect.pipe(
      Effect.retry(transient),
      Effect.retry(unknownRetry)
    )
}

export const retryKie = retryKieFrom(transientBase)

/** The poll at the deadline: two more tries, 5 s apart, when KIE's answer is a transient error. */
export const lastPollRetry: Schedule.Schedule<number, KieError> = Schedule.spaced("5 seconds").pipe(
  Schedule.intersect(Schedule.recurs(2)),
  Schedule.map(([n]) => n),
  Schedule.whileInput(isTransient)
)

/**
 * While the circuit is open, KIE is probed (with the free credits call) 15 s after it
 * opened, then again after 15 s, 30 s, 60 s, … up to every 5 minutes, until it answers
 * and holds enough credits.
 */
export const breakerFirstProbe = Duration.seconds(15)
export const breakerProbe: Schedule.Schedule<Duration.Duration> = Schedule.exponential("15 seconds", 2).pipe(
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.minutes(5)))
)
