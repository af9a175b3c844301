/**
 * How a job asks its user entity to capture or refund its unit: ask, and when no usable
 * answer comes, ask again under a fresh key (attempt 1, 2, …). The user entity's ledger
 * keeps one settlement per job and kind, so asking again never moves money twice, while
 * waiting for an answer that will not come strands the job with its unit reserved.
 *
 * "No usable answer" is any of:
 * - no reply within `userEntityReplyTimeout` (a message lost in a shard hand-over);
 * - the same key still in flight, or a full mailbox (`AlreadyProcessingMessage`,
 *   `MailboxFull`): a driver restarted at attempt 0 would meet its own earlier message;
 * - a reply that is an interruption. The cluster stores a persisted message's reply under
 *   its key, interruptions included, and replays it to anyone who sends that key again; a
 *   driver restarted after such a reply was stored got it back at once, died of it
 *   silently, and was restarted into it again, for ever (the chaos test's stuck jobs).
 */
import { Cause, Effect, Exit, LogLevel, Option } from "effect"
import { logFailure } from "../observability/error-summary.js"
import { driverRestartDelay, userEntityReplyTimeout } from "./job-policy.js"

const isBusy = (error: unknown) =>
  typeof error === "object" && error !== null && "_tag" in error &&
  (error._tag === "AlreadyProcessingMessage" || error._tag === "MailboxFull")

export const settleWithUser = <A, E, R>(
  send: (attempt: number) => Effect.Effect<A, E, R>,
  onAttempt: (attempt: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    for (let attempt = 0;; attempt++) {
      yield* onAttempt(attempt)
      // `exit` returns only when this fiber is not itself interrupted: an interruption in
      // the exit is the reply's, and this fiber goes on to the next attempt.
      const reply = yield* Effect.exit(Effect.timeoutOption(send(attempt), userEntityReplyTimeout))
      if (Exit.isSuccess(reply)) {
        if (Option.isSome(reply.value)) return reply.value.value
        yield* Effect.logWarning("no reply from the user entity; settling again under a new key").pipe(
          Effect.annotateLogs({ attempt: attempt + 1 })
        )
        continue
      }
      if (Cause.isInterruptedOnly(reply.cause)) {
        yield* Effect.logWarning("the user entity's reply was an interruption; settling again under a new key").pipe(
          Effect.annotateLogs({ attempt: attempt + 1 })
        )
        continue
      }
      const failure = Cause.failureOption(reply.cause)
      if (Option.isSome(failure) && isBusy(failure.value)) {
        yield* logFailure(LogLevel.Warning, "the user entity is busy with this settlement; settling again under a new key", failure.value)
        yield* Effect.sleep(driverRestartDelay)
        continue
      }
      return yield* Effect.failCause(reply.cause)
    }
  })
