/**
 * Telegram's flood limits for messages the bot sends or edits (Bot API FAQ): about one
 * message per second per chat with short bursts tolerated, and about 30 per second across
 * all chats. Both are kept in the shared limits (Redis when REDIS_URL is set, see
 * src/rate-limits/rate-limits.ts), so they hold for all runners together; while Redis
 * fails, each runner keeps to its share of the global limit. Callers over a limit wait
 * their turn ("delay"), they are never dropped.
 *
 * Order matters: the per-chat wait comes first and the global slot is taken only after it,
 * so a message held back by its chat does not reserve a global slot it will use later
 * (which would let slots pile up at one instant).
 *
 * Two priorities share the global budget. A "normal" message (a video, a refund, a reply)
 * books the next free slot, however far ahead. A "progress" message (a job's progress
 * message and its edits) takes a slot only when one is free now and nobody has booked
 * ahead, so under load it waits behind every normal message instead of in front of them:
 * 10,000 photos in a minute must not put 10,000 "queued" messages between the first video
 * and its user. Each runner lets one progress message at a time ask the store, so a
 * backlog of them costs one store request per wait, not one per message.
 *
 * A "bulk" message (an admin's broadcast) comes last: it takes a spare slot like a progress
 * message, but only while no progress message of this runner waits, and never more than
 * `bulkPerSecond` across all runners, so the global bucket keeps refilling and a video
 * that comes along finds a slot at once instead of waiting behind the campaign.
 */
import { Duration, Effect, Option } from "effect"
import { type LimitRequest, RateLimits } from "../rate-limits/rate-limits.js"
import { bucketFor } from "../rate-limits/token-bucket.js"
import { makeFifoTurn } from "./fifo-turn.js"

export interface TelegramLimits {
  /** Messages a chat may get at once before pacing starts. */
  readonly perChatBurst: number
  /** Then one message per this interval. */
  readonly perChatInterval: Duration.DurationInput
  /** Messages per second across all chats and runners. */
  readonly globalPerSecond: number
  /** Of those, what bulk messages (broadcasts) may take at most. */
  readonly bulkPerSecond: number
}

export const defaultTelegramLimits: TelegramLimits = {
  perChatBurst: 3,
  perChatInterval: Duration.seconds(1),
  globalPerSecond: 30,
  bulkPerSecond: 20
}

export type OutgoingPriority = "normal" | "progress" | "bulk"

export interface OutgoingLimiter {
  /** Waits (on Effect's Clock) until a message to `chatId` may go out. */
  readonly acquire: (chatId: number, priority?: OutgoingPriority) => Effect.Effect<void>
}

export const makeOutgoingLimiter = (options: {
  readonly limits?: Partial<TelegramLimits> | undefined
  /** Prefix of the limiter keys; distinct bots sharing one Redis need distinct prefixes. */
  readonly keyPrefix?: string | undefined
}): Effect.Effect<OutgoingLimiter, never, RateLimits> =>
  Effect.gen(function*() {
    const limiter = yield* RateLimits
    const limits = { ...defaultTelegramLimits, ...options.limits }
    const prefix = options.keyPrefix ?? "telegram:"
    const chatInterval = Duration.decode(limits.perChatInterval)
    // Burst + refills stay below the limit in every one-second span, not only in aligned windows.
    const global = bucketFor(limits.globalPerSecond, Duration.seconds(1))
    const bulk = bucketFor(Math.min(limits.bulkPerSecond, limits.globalPerSecond), Duration.seconds(1))

    const globalKey = `${prefix}global`
    const request = (key: string, limit: number, step: Duration.Duration, onExceeded: "delay" | "fail"): LimitRequest => ({
      key,
      algorithm: "token-bucket",
      onExceeded,
      limit,
      // The library refills `limit` tokens per `window`: one token per step.
      window: Duration.times(step, limit),
      global: key === globalKey
    })

    /** Books the next slot and sleeps until it comes. */
    const wait = (key: string, limit: number, step: Duration.Duration) =>
      limiter.consume(request(key, limit, step, "delay")).pipe(
        // "delay" is only refused for more tokens than the burst, never asked for here.
        Effect.orElseSucceed(() => ({ delay: step })),
        Effect.flatMap(({ delay }) => Duration.isZero(delay) ? Effect.void : Effect.sleep(delay))
      )

    /** Takes a slot only if one is free now; otherwise how long until one may be. */
    const takeIfFree = (key: string, limit: number, step: Duration.Duration) =>
      limiter.consume(request(key, limit, step, "fail")).pipe(
        Effect.as(Option.none<Duration.Duration>()),
        Effect.catchAll((error) => Effect.succeed(Option.some(error.retryAfter)))
      )

    const progressTurn = yield* makeFifoTurn
    const spareGlobalSlot = progressTurn.withTurn(
      Effect.gen(function*() {
        while (true) {
          const retryAfter = yield* takeIfFree(globalKey, global.burst, global.step)
          if (Option.isNone(retryAfter)) return
          // Normal messages booked ahead; the store says when the last of them is due.
          yield* Effect.sleep(Duration.max(retryAfter.value, global.step))
        }
      })
    )

    // No turn here: a broadcast has a handful of sends in flight (src/broadcasts/broadcast-sender.ts),
    // each booked on the bulk cap first, so a store request per waiting send is cheap.
    const spareSlotForBulk = wait(`${prefix}bulk`, bulk.burst, bulk.step).pipe(Effect.zipRight(
      Effect.gen(function*() {
        while (true) {
          if (yield* progressTurn.busy) {
            yield* Effect.sleep(global.step)
            continue
          }
          const retryAfter = yield* takeIfFree(globalKey, global.burst, global.step)
          if (Option.isNone(retryAfter)) return
          yield* Effect.sleep(Duration.max(retryAfter.value, global.step))
        }
      })
    ))

    const globalSlot = (priority: OutgoingPriority) => {
      switch (priority) {
        case "normal":
          return wait(globalKey, global.burst, global.step)
        case "progress":
          return spareGlobalSlot
        case "bulk":
          return spareSlotForBulk
      }
    }

    return {
      acquire: (chatId, priority = "normal") =>
        wait(`${prefix}chat:${chatId}`, limits.perChatBurst, chatInterval).pipe(Effect.zipRight(globalSlot(priority)))
    }
  })
