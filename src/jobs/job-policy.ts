/**
 * The numbers that shape a job's life, in one place so operators can read them and tests
 * can drive them with TestClock.
 */
import { Duration, Schedule } from "effect"
import type { TelegramError } from "../errors/telegram-errors.js"

/** KIE tasks per job: the first and one automatic resubmission when KIE, not the user, failed. */
export const generationAttempts = 2

/** How long a job may wait in `queued` while KIE is unusable for operator reasons. */
export const operatorWaitLimit = Duration.minutes(30)

/** Progress edits while generating: at most one per interval, and only when the text changes. */
export const progressEditInterval = Duration.seconds(30)

/** `upload_video` lasts at most 5 s on the client, so it is repeated while the video is sent. */
export const chatActionInterval = Duration.seconds(4)

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

/** A job driver that died of a defect (e.g. the database went away) first starts over after this. */
export const driverRestartDelay = Duration.seconds(5)

/** Each further death of the same failure doubles the pause before the restart, up to this. */
export const driverRestartDelayCap = Duration.seconds(30)

/**
 * Deaths of the same deterministic or unknown failure in a row after which the job is
 * ended (refunded with an apology, or marked delivered when its video was sent) and
 * operators are alerted: about 2.5 minutes with the pauses above. Transient failures (the
 * database unreachable) never end a job; they only slow its restarts down.
 */
export const driverFailureLimit = 8

/** The pause before restarting a driver that died `deaths` times in a row of the same failure. */
export const driverRestartPause = (deaths: number): Duration.Duration =>
  Duration.min(Duration.times(driverRestartDelay, 2 ** Math.max(0, deaths - 1)), driverRestartDelayCap)

/** How long the driver first waits for the user entity's reply (balance, capture, refund) before asking again. */
export const userEntityReplyTimeout = Duration.minutes(1)

/**
 * A settlement left unanswered is asked again under a new key, each time after twice the
 * previous wait (1, 2, 4, 8 minutes), then every 15 minutes for as long as it takes: each
 * ask is one more persisted message, so the rate of them must fall.
 */
export const settlementPatienceCap = Duration.minutes(15)

/** Unanswered settlement asks after which operators are alerted (once per driver), about 15 minutes in. */
export const settlementAlertAfter = 4

/**
 * A live driver that has not moved for this long, anywhere but in a wait for KIE, is
 * reported when the watchdog wakes its job (a video upload with all its retries stays
 * well under it).
 */
export const stuckDriverReportAfter = Duration.minutes(2)
