/**
 * Long polling as a cluster Singleton: exactly one runner calls getUpdates. Each batch is
 * stored in the inbox, in one statement, before the next getUpdates confirms it to Telegram,
 * so a runner killed anywhere loses no update. The offset is stored too, but need not be
 * current: Telegram answers an older offset with the updates it still holds, the unconfirmed
 * ones, so the next poller, on any runner, resumes where this one stopped, and an update
 * fetched twice is stored once (keyed by update_id).
 *
 * A singleton whose effect fails stays down until its shard moves (docs/architecture.md,
 * "Cluster pitfalls"), so the loop never fails: each failed round is logged and retried.
 */
import { Singleton } from "@effect/cluster"
import { Cause, Duration, Effect, Layer, LogLevel, Option, Schedule } from "effect"
import { logFailure } from "../../observability/error-summary.js"
import type { Api } from "grammy"
import type { Update } from "grammy/types"
import { AppConfig } from "../../config/index.js"
import { RateLimits } from "../../rate-limits/rate-limits.js"
import { urgentPriority } from "../../runtime/time-sliced-scheduler.js"
import { Admission } from "../../storage/admission.js"
import { BatchAdmission } from "../../storage/batch-admission.js"
import { IntakeDatabaseLive } from "../../storage/database.js"
import { TelegramInbox } from "../../storage/telegram-inbox.js"
import { TelegramOffsets } from "../../storage/telegram-offsets.js"
import { UserSnapshots } from "../../storage/user-snapshot.js"
import { botIdOf, TelegramApi } from "../api.js"
import { CountedUpdates } from "../counted-updates.js"
import { allowedUpdates, makeHandOverAdmittingLonePhotos } from "./updates.js"

const retryPause = Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("30 seconds")))

export const pollOnce = Effect.gen(function*() {
  const config = yield* AppConfig
  const offsets = yield* TelegramOffsets
  const handOver = yield* makeHandOverAdmittingLonePhotos
  const api = yield* TelegramApi
  const botId = botIdOf(api)
  const timeout = config.bot.pollTimeoutSeconds

  // The poller is the offset's only writer, so after the first read the offset lives here.
  // Storing it is off the batch's path: it is written while the next getUpdates is under way.
  let offset: number | undefined
  let stored: number | undefined
  const currentOffset = Effect.suspend(() =>
    offset !== undefined ? Effect.succeed(offset) : Effect.map(offsets.of(botId), (read) => {
      offset = stored = Option.getOrElse(read, () => 0)
      return offset
    })
  )
  const storeOffset = Effect.suspend(() => {
    const next = offset
    if (next === undefined || next === stored) return Effect.void
    return Effect.map(offsets.save(botId, next), () => {
      stored = next
    })
  })
  // A poller that stops in order leaves the offset current: the next one fetches nothing twice.
  yield* Effect.addFinalizer(() => Effect.ignore(storeOffset))

  return Effect.gen(function*() {
    const from = yield* currentOffset
    const [updates] = yield* Effect.all([
      Effect.tryPromise((signal): Promise<ReadonlyArray<Update>> =>
        api.getUpdates(
          { offset: from, timeout, allowed_updates: [...allowedUpdates] },
          signal as Parameters<Api["getUpdates"]>[1]
        )
      ),
      // A failed write is written at the next round: the batch in hand is not given up for it.
      storeOffset.pipe(
        Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not store the Telegram offset; retried next round", error))
      )
    ], { concurrency: 2 })
    // One statement for the whole batch; each user's entity reads its rows in update_id
    // order, which is the order Telegram sent them.
    yield* handOver(updates as unknown as Parameters<typeof handOver>[0])
    const last = updates[updates.length - 1]
    if (last !== undefined) offset = last.update_id + 1
    return updates.length
  }).pipe(
    // The round's steps go ahead of the runner's other work (src/runtime/time-sliced-scheduler.ts):
    // a batch is a handful of steps one after another, each of which waited behind thousands
    // of queued ones under a burst, and every update waits for the batch before it. What the
    // round starts in the background runs at the usual priority (./lone-photos.ts).
    Effect.withSchedulingPriority(urgentPriority)
  )
})

export const pollLoop = Effect.gen(function*() {
  const config = yield* AppConfig
  const round = yield* pollOnce
  const api = yield* TelegramApi
  // getUpdates answers 409 while a webhook is set; the pending updates stay queued.
  yield* Effect.tryPromise(() => api.deleteWebhook({ drop_pending_updates: false })).pipe(
    Effect.tapError((error) => logFailure(LogLevel.Warning, "deleteWebhook failed; polling anyway", error)),
    Effect.ignore
  )
  yield* Effect.logInfo("Telegram poller started on this runner")
  yield* Effect.addFinalizer(() => Effect.logInfo("Telegram poller stopped on this runner"))
  const withRetry = round.pipe(
    // Failures and defects alike: the singleton must not end.
    Effect.sandbox,
    // A failure says what went wrong in its message (an unreachable Telegram, a refused
    // write); only a defect needs its stack trace.
    Effect.tapError((cause) =>
      Cause.isDie(cause)
        ? Effect.logError("Telegram polling round failed; retrying", cause)
        : logFailure(LogLevel.Error, "Telegram polling round failed; retrying", Cause.squash(cause))
    ),
    Effect.retry(retryPause),
    Effect.orDie,
    // With a zero long-poll timeout an empty answer comes at once: pause between rounds.
    Effect.tap((count) => count === 0 && config.bot.pollTimeoutSeconds === 0 ? Effect.sleep(Duration.seconds(1)) : Effect.void)
  )
  return yield* Effect.forever(withRetry)
})

/**
 * The poller; only in polling mode. Its storage goes through its own connections
 * (`IntakeDatabaseLive`), built while it runs; it starts the jobs it admits with the
 * runner's `JobStarts`, and counts the flood limit in the process's one set of limits (a
 * layer, so that the process builds it once: one Redis connection).
 */
export const TelegramPollerLive = Singleton.make(
  "telegram-poller",
  pollLoop.pipe(Effect.provide(
    Layer.mergeAll(TelegramOffsets.Default, TelegramInbox.Default, Admission.Default, BatchAdmission.Default, UserSnapshots.Default).pipe(
      Layer.provide(IntakeDatabaseLive)
    )
  ))
).pipe(Layer.provide([RateLimits.Default, CountedUpdates.Default]))
