/**
 * How a job asks its user entity to capture or refund its unit: ask, and when no usable
 * answer comes, ask again under a fresh key (attempt 1, 2, …). The user entity's ledger
 * keeps one settlement per job and kind, so asking again never moves money twice, while
 * waiting for an answer that will not come strands the job with its unit reserved.
 *
 * "No usable answer" is any of:
 * - no reply within the attempt's patience (a message lost in a shard hand-over);
 * - the same key still in flight, or a full mailbox (`AlreadyProcessingMessage`,
 *   `MailboxFull`): a driver restarted at attempt 0 would meet its own earlier message;
 * - a reply that is an interruption: the cluster replays a stored reply, interruptions
 *   included, to anyone who sends its key again (docs/architecture.md, "Cluster pitfalls"),
 *   so asking again under the same key would only get it back.
 *
 * Each ask is a persisted message, so the asks thin out (`replyPatience`, and doubling
 * pauses after busy or interrupted replies, both capped at `settlementPatienceCap`), and
 * operators hear of a settlement that stays unanswered.
 */
import { Cause, Duration, Effect, Exit, LogLevel, Option } from "effect"
import { logFailure } from "../observability/error-summary.js"
import { settlementRetryDelay, settlementAlertAfter, settlementPatienceCap, userEntityReplyTimeout } from "./job-policy.js"

const isBusy = (error: unknown) =>
  typeof error === "object" && error !== null && "_tag" in error &&
  (error._tag === "AlreadyProcessingMessage" || error._tag === "MailboxFull")

const doubled = (base: Duration.Duration, times: number) =>
  Duration.min(Duration.times(base, 2 ** Math.max(0, times)), settlementPatienceCap)

/** How long attempt `attempt` waits for its reply: 1, 2, 4, 8, then 15 minutes. */
export const replyPatience = (attempt: number) => doubled(userEntityReplyTimeout, attempt)

/**
 * Asks until a usable answer comes. `onAttempt` runs before each ask; `onUnanswered` once,
 * when `settlementAlertAfter` asks in a row went unanswered (operators should look).
 */
export const settleWithUser = <A, E, R>(
  send: (attempt: number) => Effect.Effect<A, E, R>,
  onAttempt: (attempt: number) => Effect.Effect<void> = () => Effect.void,
  onUnanswered: (attempts: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    for (let attempt = 0;; attempt++) {
      yield* onAttempt(attempt)
      // `exit` returns only when this fiber is not itself interrupted: an interruption in
      // the exit is the reply's, and this fiber goes on to the next attempt.
      const reply = yield* Effect.exit(Effect.timeoutOption(send(attempt), replyPatience(attempt)))
      // The wait before the next ask, beyond the reply's own patience.
      let pause = Duration.zero
      if (Exit.isSuccess(reply)) {
        if (Option.isSome(reply.value)) return reply.value.value
        yield* Effect.logWarning("no reply from the user entity; settling again under a new key").pipe(
          Effect.annotateLogs({ attempt: attempt + 1 })
        )
      } else if (Cause.isInterruptedOnly(reply.cause)) {
        // The first is asked again at once: a stored interruption is answered at once.
        if (attempt > 0) pause = doubled(settlementRetryDelay, attempt - 1)
        yield* Effect.logWarning("the user entity's reply was an interruption; settling again under a new key").pipe(
          Effect.annotateLogs({ attempt: attempt + 1 })
        )
      } else {
        const failure = Cause.failureOption(reply.cause)
        if (Option.isNone(failure) || !isBusy(failure.value)) return yield* Effect.failCause(reply.cause)
        pause = doubled(settlementRetryDelay, attempt)
        yield* logFailure(LogLevel.Warning, "the user entity is busy with this settlement; settling again under a new key", failure.value)
      }
      if (attempt + 1 === settlementAlertAfter) yield* onUnanswered(attempt + 1)
      yield* Effect.sleep(pause)
    }
  })
