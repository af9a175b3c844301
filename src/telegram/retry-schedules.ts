/**
 * How the gateway retries Telegram calls, in one place and driven by Effect's Clock (so
 * TestClock controls it):
 * - 429: wait exactly `retry_after` seconds (Telegram's own instruction; retrying earlier
 *   only earns another 429), at most `rateLimitRetries` times, and only while the wait is
 *   short. A longer flood wait is returned to the caller as a TelegramTransientError with
 *   `retryAfterSeconds`, because a job holding a fiber for minutes inside the gateway
 *   would hide the wait from its own delivery budget.
 * - 5xx, network, timeout: a few quick tries with exponential backoff.
 * - Permanent errors: never.
 * The two classes are counted separately, so a 429 followed by a 502 still gets its backoff.
 */
import { Duration, Effect, Schedule, ScheduleDecision, ScheduleInterval } from "effect"
import type { TelegramError } from "../errors/telegram-errors.js"

export const rateLimitRetries = 3
/** The longest `retry_after` the gateway waits out itself. */
export const maxRetryAfterWait = Duration.seconds(30)
/** Telegram always sends retry_after with a 429; one second if it ever does not. */
export const defaultRetryAfter = Duration.seconds(1)

export const transientRetries = 3
/** 0.5 s, 1 s, 2 s: a 5xx from Telegram is usually gone within seconds. */
export const transientBackoffBase = Duration.millis(500)

const isRateLimited = (error: TelegramError) =>
  error._tag === "TelegramTransientError" && error.reason === "RateLimited"

/**
 * The wait before the next attempt after the failures so far (oldest first, the latest
 * last), or undefined when the call must not be retried.
 */
export const retryDelay = (failures: ReadonlyArray<TelegramError>): Duration.Duration | undefined => {
  const latest = failures.at(-1)
  if (latest === undefined || latest._tag === "TelegramPermanentError") return undefined
  if (latest.reason === "RateLimited") {
    if (failures.filter(isRateLimited).length > rateLimitRetries) return undefined
    const wait = latest.retryAfterSeconds === undefined ? defaultRetryAfter : Duration.seconds(latest.retryAfterSeconds)
    return Duration.greaterThan(wait, maxRetryAfterWait) ? undefined : wait
  }
  const attempt = failures.filter((failure) => failure._tag === "TelegramTransientError" && !isRateLimited(failure)).length
  if (attempt > transientRetries) return undefined
  return Duration.times(transientBackoffBase, 2 ** (attempt - 1))
}

/**
 * Every retry of a Telegram call goes through this schedule; its state and output are the
 * failures so far, so `retryDelay` decides from the whole history.
 */
export const telegramRetry: Schedule.Schedule<ReadonlyArray<TelegramError>, TelegramError> = Schedule.makeWithState(
  [] as ReadonlyArray<TelegramError>,
  (now, failure: TelegramError, previous) => {
    const failures = [...previous, failure]
    const delay = retryDelay(failures)
    return Effect.succeed(
      delay === undefined
        ? [failures, failures, ScheduleDecision.done] as const
        : [failures, failures, ScheduleDecision.continueWith(ScheduleInterval.after(now + Duration.toMillis(delay)))] as const
    )
  }
)
