/**
 * Long polling as a cluster Singleton: exactly one runner calls getUpdates. Each batch is
 * handed to the users' entities (persisted) before the offset is stored and confirmed, so
 * a runner killed anywhere loses no update; the next poller, on any runner, resumes from
 * the stored offset, and an update fetched twice is stored once (keyed by update_id).
 *
 * A singleton whose effect fails stays down until its shard moves (cluster-notes §5), so
 * the loop never fails: each failed round is logged and retried after a pause.
 */
import { Singleton } from "@effect/cluster"
import { Duration, Effect, Option, Redacted, Schedule } from "effect"
import { Api } from "grammy"
import type { Update } from "grammy/types"
import { AppConfig } from "../../config.js"
import { BotState } from "../../storage/bot-state.js"
import { allowedUpdates, makeHandOver } from "./updates.js"

/** The numeric bot id in front of the token's secret part; names the stored offset. */
export const botIdOf = (token: string): number => Number(token.split(":")[0]) || 0

const retryPause = Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("30 seconds")))

export const pollOnce = Effect.gen(function*() {
  const config = yield* AppConfig
  const state = yield* BotState
  const handOver = yield* makeHandOver
  const token = Redacted.value(Option.getOrThrow(config.telegram.botToken))
  const botId = botIdOf(token)
  const api = new Api(token, { apiRoot: config.telegram.apiRoot })
  const timeout = config.bot.pollTimeoutSeconds

  return Effect.gen(function*() {
    const offset = Option.getOrElse(yield* state.offsetOf(botId), () => 0)
    const updates: ReadonlyArray<Update> = yield* Effect.tryPromise((signal) =>
      api.getUpdates(
        { offset, timeout, allowed_updates: [...allowedUpdates] },
        signal as Parameters<Api["getUpdates"]>[1]
      )
    )
    for (const update of updates) {
      yield* handOver(update as unknown as Parameters<typeof handOver>[0])
    }
    const last = updates[updates.length - 1]
    if (last !== undefined) yield* state.saveOffset(botId, last.update_id + 1)
    return updates.length
  })
})

export const pollLoop = Effect.gen(function*() {
  const config = yield* AppConfig
  const round = yield* pollOnce
  const token = Redacted.value(Option.getOrThrow(config.telegram.botToken))
  const api = new Api(token, { apiRoot: config.telegram.apiRoot })
  // getUpdates answers 409 while a webhook is set; the pending updates stay queued.
  yield* Effect.tryPromise(() => api.deleteWebhook({ drop_pending_updates: false })).pipe(
    Effect.tapError((error) => Effect.logWarning("deleteWebhook failed; polling anyway", error)),
    Effect.ignore
  )
  yield* Effect.logInfo("Telegram poller started on this runner")
  yield* Effect.addFinalizer(() => Effect.logInfo("Telegram poller stopped on this runner"))
  const withRetry = round.pipe(
    // Failures and defects alike: the singleton must not end.
    Effect.sandbox,
    Effect.tapError((cause) => Effect.logError("Telegram polling round failed; retrying", cause)),
    Effect.retry(retryPause),
    Effect.orDie,
    // With a zero long-poll timeout an empty answer comes at once: pause between rounds.
    Effect.tap((count) => count === 0 && config.bot.pollTimeoutSeconds === 0 ? Effect.sleep(Duration.seconds(1)) : Effect.void)
  )
  return yield* Effect.forever(withRetry)
})

/** The poller; only in polling mode. */
export const TelegramPollerLive = Singleton.make("telegram-poller", pollLoop.pipe(Effect.provide(BotState.Default)))
