/**
 * The job's one progress message, kept current with bounded edits: a new text is shown
 * when the step changes (`force`) or, within a step, at most once per interval; the same
 * text is never sent twice (Telegram answers "message is not modified" and counts it).
 *
 * A step change ("done", "ended", "paused") is part of the outcome: it is sent at once, in
 * line with the step. A mere update ("generating, 40 s") waits for a spare slot of
 * Telegram's budget, behind other users' videos (see outgoing-limits.ts), in a fiber of its
 * own: the job's polling must not wait for it, and a newer text makes a waiting one stale.
 */
import { Clock, Duration, Effect, Fiber, LogLevel, Ref, type Scope } from "effect"
import { logFailure } from "../observability/error-summary.js"
import type { InlineKeyboard, TelegramGatewayService } from "../telegram/gateway.js"
import { progressEditInterval } from "./job-policy.js"

export const makeProgress = (gateway: TelegramGatewayService): Effect.Effect<{
  readonly show: (
    chatId: number,
    messageId: number,
    text: string,
    options?: { readonly force?: boolean | undefined; readonly keyboard?: InlineKeyboard | undefined }
  ) => Effect.Effect<void>
  /** Drops an update still waiting for its slot (the outcome is about to be sent). */
  readonly dropPending: Effect.Effect<void>
  /** Until an update waiting for its slot is sent or dropped. */
  readonly pendingDone: Effect.Effect<void>
}, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const last = yield* Ref.make({ text: "", at: Number.NEGATIVE_INFINITY })
    let pending: Fiber.RuntimeFiber<void> | undefined

    const dropPending = Effect.suspend(() => {
      const waiting = pending
      pending = undefined
      return waiting === undefined ? Effect.void : Fiber.interrupt(waiting)
    })

    const show = (
      chatId: number,
      messageId: number,
      text: string,
      options?: { readonly force?: boolean | undefined; readonly keyboard?: InlineKeyboard | undefined }
    ) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const previous = yield* Ref.get(last)
        if (previous.text === text) return
        if (!options?.force && now - previous.at < Duration.toMillis(progressEditInterval)) return
        yield* Ref.set(last, { text, at: now })
        yield* dropPending
        // An edit without a keyboard removes the one the message had (e.g. Cancel).
        const edit = gateway.editMessageText(chatId, messageId, text, {
          keyboard: options?.keyboard,
          priority: options?.force ? "normal" : "progress"
        }).pipe(
          Effect.catchAll((error) => logFailure(LogLevel.Debug, "progress edit skipped", error))
        )
        if (options?.force) return yield* edit
        pending = yield* Effect.forkIn(edit, scope)
      })

    const pendingDone = Effect.suspend(() => pending === undefined ? Effect.void : Effect.asVoid(Fiber.await(pending)))

    return { show, dropPending, pendingDone } as const
  })
