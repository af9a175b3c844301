/**
 * Long polling as a cluster Singleton: exactly one runner calls getUpdates. Each batch is
 * handed to the users' entities (persisted) before the offset is stored and confirmed, so
 * a runner killed anywhere loses no update; the next poller, on any runner, resumes from
 * the stored offset, and an update fetched twice is stored once (keyed by update_id).
 *
 * A singleton whose effect fails stays down until its shard moves (docs/architecture.md,
 * "Cluster pitfalls"), so the loop never fails: each failed round is logged and retried.
 */
import { Singleton } from "@effect/cluster"
import { Cause, Duration, Effect, LogLevel, Option, Schedule } from "effect"
import { logFailure } from "../../observability/error-summary.js"
import type { Api } from "grammy"
import type { Update } from "grammy/types"
import { AppConfig } from "../../config/index.js"
import { TelegramOffsets } from "../../storage/telegram-offsets.js"
import { botIdOf, TelegramApi } from "../api.js"
import { allowedUpdates, makeHandOver, userOfUpdate } from "./updates.js"

/** How many users' updates of one getUpdates batch (at most 100) are stored at once. */
const handOverConcurrency = 16

/** A batch's updates grouped by sender, each group in Telegram's order; updates without a user form their own groups. */
export const byUser = (updates: ReadonlyArray<Update>): ReadonlyArray<ReadonlyArray<Update>> => {
  const groups = new Map<number | Update, Array<Update>>()
  for (const update of updates) {
    const key = Option.getOrElse(userOfUpdate(update as unknown as Record<string, unknown>), (): number | Update => update)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [update])
    else group.push(update)
  }
  return [...groups.values()]
}

const retryPause = Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("30 seconds")))

export const pollOnce = Effect.gen(function*() {
  const config = yield* AppConfig
  const offsets = yield* TelegramOffsets
  const handOver = yield* makeHandOver
  const api = yield* TelegramApi
  const botId = botIdOf(api)
  const timeout = config.bot.pollTimeoutSeconds

  return Effect.gen(function*() {
    const offset = Option.getOrElse(yield* offsets.of(botId), () => 0)
    const updates: ReadonlyArray<Update> = yield* Effect.tryPromise((signal) =>
      api.getUpdates(
        { offset, timeout, allowed_updates: [...allowedUpdates] },
        signal as Parameters<Api["getUpdates"]>[1]
      )
    )
    // One user's updates are stored in the order Telegram sent them (their entity handles
    // them in that order); different users' are stored concurrently, because one insert
    // after another caps intake at one round-trip per update when a burst arrives.
    yield* Effect.forEach(
      byUser(updates),
      (sameUser) => Effect.forEach(sameUser, (update) => handOver(update as unknown as Parameters<typeof handOver>[0]), { discard: true }),
      { concurrency: handOverConcurrency, discard: true }
    )
    const last = updates[updates.length - 1]
    if (last !== undefined) yield* offsets.save(botId, last.update_id + 1)
    return updates.length
  })
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

/** The poller; only in polling mode. */
export const TelegramPollerLive = Singleton.make("telegram-poller", pollLoop.pipe(Effect.provide(TelegramOffsets.Default)))
