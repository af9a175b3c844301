/**
 * The job's one progress message, kept current with bounded edits: a new text is shown
 * when the step changes (`force`) or, within a step, at most once per interval; the same
 * text is never sent twice (Telegram answers "message is not modified" and counts it).
 */
import { Clock, Duration, Effect, Ref } from "effect"
import type { InlineKeyboard, TelegramGatewayService } from "../telegram/gateway.js"
import { progressEditInterval } from "./job-policy.js"

export const makeProgress = (gateway: TelegramGatewayService) =>
  Effect.gen(function*() {
    const last = yield* Ref.make({ text: "", at: Number.NEGATIVE_INFINITY })

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
        // An edit without a keyboard removes the one the message had (e.g. Cancel).
        yield* gateway.editMessageText(chatId, messageId, text, {
          keyboard: options?.keyboard,
          priority: "progress"
        }).pipe(
          Effect.catchAll((error) => Effect.logDebug("progress edit skipped", error))
        )
      })

    return { show } as const
  })
