/**
 * Telegram's flood limits for messages the bot sends or edits (telegram.md §2): about one
 * message per second per chat with short bursts tolerated, and about 30 per second across
 * all chats. Both are kept in the shared RateLimiter store (Redis when REDIS_URL is set,
 * see `RateLimiterStoreLive`), so they hold for all runners together. Callers over a limit
 * wait their turn ("delay"), they are never dropped.
 *
 * Order matters: the per-chat wait comes first and the global slot is taken only after it,
 * so a message held back by its chat does not reserve a global slot it will use later
 * (which would let slots pile up at one instant).
 */
import { RateLimiter } from "@effect/experimental"
import { Duration, Effect } from "effect"
import { bucketFor } from "../kie/rate-limiter.js"

export interface TelegramLimits {
  /** Messages a chat may get at once before pacing starts. */
  readonly perChatBurst: number
  /** Then one message per this interval. */
  readonly perChatInterval: Duration.DurationInput
  /** Messages per second across all chats and runners. */
  readonly globalPerSecond: number
}

export const defaultTelegramLimits: TelegramLimits = {
  perChatBurst: 3,
  perChatInterval: Duration.seconds(1),
  globalPerSecond: 30
}

export interface OutgoingLimiter {
  /** Waits (on Effect's Clock) until a message to `chatId` may go out. */
  readonly acquire: (chatId: number) => Effect.Effect<void>
}

export const makeOutgoingLimiter = (options: {
  readonly limits?: Partial<TelegramLimits> | undefined
  /** Prefix of the limiter keys; distinct bots sharing one Redis need distinct prefixes. */
  readonly keyPrefix?: string | undefined
}): Effect.Effect<OutgoingLimiter, never, RateLimiter.RateLimiter> =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    // Used only while the shared store fails: per-runner limits are weaker than shared
    // ones, but concurrent senders still queue instead of all going out at once.
    const local = yield* RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory))
    const limits = { ...defaultTelegramLimits, ...options.limits }
    const prefix = options.keyPrefix ?? "telegram:"
    const chatInterval = Duration.decode(limits.perChatInterval)
    // The same sizing as KIE's limit: burst + refills stay below the limit in every
    // one-second span, not only in aligned windows (see src/kie/rate-limiter.ts).
    const global = bucketFor(limits.globalPerSecond, Duration.seconds(1))

    const wait = (key: string, limit: number, step: Duration.Duration) => {
      const request = {
        key,
        algorithm: "token-bucket",
        onExceeded: "delay",
        limit,
        // The library refills `limit` tokens per `window`: one token per step.
        window: Duration.times(step, limit)
      } as const
      return limiter.consume(request).pipe(
        // Without the store there is no coordination across runners; a 429 that slips
        // through is still retried after retry_after.
        Effect.catchAll((error) =>
          Effect.logWarning("Telegram rate limiter store failed; limiting this runner only", error.message).pipe(
            Effect.zipRight(local.consume(request)),
            Effect.orElseSucceed(() => ({ delay: step }))
          )
        ),
        Effect.flatMap(({ delay }) => Duration.isZero(delay) ? Effect.void : Effect.sleep(delay))
      )
    }

    return {
      acquire: (chatId) =>
        wait(`${prefix}chat:${chatId}`, limits.perChatBurst, chatInterval).pipe(
          Effect.zipRight(wait(`${prefix}global`, global.burst, global.step))
        )
    }
  })
