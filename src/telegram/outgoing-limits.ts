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
 * Who gets the next global slot is decided on each runner by one line (../rate-limits/ordered-turn.ts):
 * nobody books a slot ahead, the first in line (the first `slotSeekers`) take a slot when
 * one is free. The line's order is what a user sees under a burst:
 *
 * - An "answer" (the first message a user gets about a request: a job's progress message,
 *   or its video or refund when that is ready before the progress message had its turn;
 *   a reply to a command) goes first, oldest request first. A user who has heard nothing
 *   may send the photo again or leave; one who has heard waits knowingly.
 * - A "normal" message (a video, a refund, a notice to a user who has heard from us) counts
 *   as asked `answerLead` after it came (`askedAtMs`, when it came earlier: a video that
 *   waited without its job, src/jobs/job-work.ts): it lets the answers to requests up to
 *   that much younger go first, then takes its place among them, so a steady stream of new
 *   photos cannot hold the videos back for ever.
 * - A "progress" message (an edit of a progress message) comes after all of those: it
 *   goes stale and may be dropped.
 * - A "bulk" message (an admin's broadcast) comes last: it takes a spare slot only while
 *   nothing of this runner waits in the line, and never more than `bulkPerSecond` across
 *   all runners, so the global bucket keeps refilling and a video that comes along finds a
 *   slot at once instead of waiting behind the campaign.
 */
import { Clock, Duration, Effect, Option } from "effect"
import { type LimitRequest, RateLimits } from "../rate-limits/rate-limits.js"
import { bucketFor } from "../rate-limits/token-bucket.js"
import { makeOrderedTurn } from "../rate-limits/ordered-turn.js"

export interface TelegramLimits {
  /** Messages a chat may get at once before pacing starts. */
  readonly perChatBurst: number
  /** Then one message per this interval. */
  readonly perChatInterval: Duration.DurationInput
  /** Messages per second across all chats and runners. */
  readonly globalPerSecond: number
  /** Of those, what bulk messages (broadcasts) may take at most. */
  readonly bulkPerSecond: number
  /** How much younger a request's answer may be and still go before a normal message. */
  readonly answerLead: Duration.DurationInput
}

export const defaultTelegramLimits: TelegramLimits = {
  perChatBurst: 3,
  perChatInterval: Duration.seconds(1),
  globalPerSecond: 30,
  bulkPerSecond: 20,
  answerLead: Duration.seconds(30)
}

/** How much younger an answer may be and still go before a normal message (the line's default). */
export const answerLeadMs = Duration.toMillis(defaultTelegramLimits.answerLead)

/** How many of a runner's waiting messages look for a free global slot at once. */
export const slotSeekers = 4

export type OutgoingPriority = "answer" | "normal" | "progress" | "bulk"

export interface OutgoingLimiter {
  /**
   * Waits (on Effect's Clock) until a message to `chatId` may go out. `askedAtMs` places an
   * answer: when its request came (a job's admission); the time of the call by default.
   */
  readonly acquire: (chatId: number, priority?: OutgoingPriority, askedAtMs?: number) => Effect.Effect<void>
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

    /**
     * The next free global slot. The bucket counts the tokens that refill while the line's
     * first waits, so taking them one at a time loses none of the rate.
     *
     * The first few in line look together, and those that found none try again in the order
     * they came, each one step after the one before it: a new turn is handed out the moment a
     * slot is taken, so a newcomer trying at once won every refill against those asleep until
     * it, and one answer could wait behind a hundred younger ones
     * (test/jobs/progress-messages.test.ts). Staggered rather than one at a time: on a busy
     * event loop each late wake-up would cost a slot (~11 messages/s, bench:pipeline).
     */
    const behind: Array<object> = []
    const freeGlobalSlot = Effect.suspend(() => {
      const me = {}
      const leave = Effect.sync(() => {
        const at = behind.indexOf(me)
        if (at !== -1) behind.splice(at, 1)
      })
      const stagger = () => Duration.times(global.step, behind.indexOf(me))
      return Effect.gen(function*() {
        if (behind.length > 0) {
          behind.push(me)
          yield* Effect.sleep(stagger())
        }
        while (true) {
          const retryAfter = yield* takeIfFree(globalKey, global.burst, global.step)
          if (Option.isNone(retryAfter)) return
          if (!behind.includes(me)) behind.push(me)
          // Another runner may have booked ahead; the store says when its last slot is due.
          yield* Effect.sleep(Duration.sum(Duration.max(retryAfter.value, global.step), stagger()))
        }
      }).pipe(Effect.ensuring(leave))
    })

    // The first few in line look for the next free slots together. One at a time, each slot
    // cost a store round trip, a step's sleep and another round trip in series: on a busy
    // event loop that held a runner to ~11 messages/s (bench:pipeline). The order holds
    // but among those few.
    const line = yield* makeOrderedTurn(slotSeekers)
    const leadMs = Duration.toMillis(Duration.decode(limits.answerLead))

    // No place in the line here: a broadcast has a handful of sends in flight
    // (src/broadcasts/broadcast-sender.ts), each booked on the bulk cap first, so a store
    // request per waiting send is cheap.
    const spareSlotForBulk = wait(`${prefix}bulk`, bulk.burst, bulk.step).pipe(Effect.zipRight(
      Effect.gen(function*() {
        while (true) {
          if (yield* line.busy) {
            yield* Effect.sleep(global.step)
            continue
          }
          const retryAfter = yield* takeIfFree(globalKey, global.burst, global.step)
          if (Option.isNone(retryAfter)) return
          yield* Effect.sleep(Duration.max(retryAfter.value, global.step))
        }
      })
    ))

    const globalSlot = (priority: OutgoingPriority, askedAtMs: number | undefined) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        switch (priority) {
          case "answer":
            return line.withTurn(freeGlobalSlot, { tier: 0, key: askedAtMs ?? now })
          case "normal":
            return line.withTurn(freeGlobalSlot, { tier: 0, key: (askedAtMs ?? now) + leadMs })
          case "progress":
            return line.withTurn(freeGlobalSlot, { tier: 1, key: 0 })
          case "bulk":
            return spareSlotForBulk
        }
      })

    return {
      acquire: (chatId, priority = "normal", askedAtMs) =>
        wait(`${prefix}chat:${chatId}`, limits.perChatBurst, chatInterval).pipe(
          Effect.zipRight(globalSlot(priority, askedAtMs))
        )
    }
  })
