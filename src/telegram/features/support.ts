/**
 * Support that reaches a person. /paysupport, or the "Contact support" button under /help,
 * /privacy and an answer from support, opens a request: the user's next message that is not
 * a command goes to every admin (ADMIN_IDS) with who sent it, their balance and last
 * payments, and the user is told it arrived. An admin's Telegram reply to that copy goes back
 * to the user in the bot's voice.
 *
 * Durable like every update: this runs in the user's entity (an admin's answer in the
 * admin's), the open request is a row (`support_requests`), and each copy sent to an admin
 * is recorded (`support_relays`) before the next, so a relay handled again after a failure
 * skips the admins who already have it.
 */
import { Clock, Effect, LogLevel, Option } from "effect"
import { Composer } from "grammy"
import type { Message } from "grammy/types"
import { languageOf, messagesFor } from "../../i18n/index.js"
import { operatorTexts } from "../../i18n/operator.js"
import { logFailure } from "../../observability/error-summary.js"
import type { PaymentsRepo } from "../../payments/payments-repo.js"
import type { SupportRepo } from "../../storage/support-repo.js"
import { parseCallbackData } from "../callback-data.js"
import { command } from "../commands.js"
import { answer, type BotContext, type BotEnv, handler, reply } from "../context.js"
import { cancelSupportKeyboard, contactSupportKeyboard } from "../keyboards.js"
import { isAdmin } from "./admin.js"

export interface SupportFeatureDeps {
  readonly support: SupportRepo
  readonly paymentsRepo: PaymentsRepo
}

/** An open request lapses after this: a message sent much later is most likely not for support. */
export const supportRequestLifetimeMs = 60 * 60_000

/** Telegram's limit is 4096 characters; the header and the footer need the rest. */
const maxRelayedChars = 3_000

const isCommand = (message: Message) => message.entities?.[0]?.type === "bot_command" && message.entities[0].offset === 0

/** The words of a message, for the admins; an attachment is named, its caption relayed. */
const relayedText = (message: Message): string => {
  const text = message.text ?? (() => {
    const kind = message.photo !== undefined
      ? "photo"
      : message.document !== undefined
      ? `file ${message.document.file_name ?? ""}`.trim()
      : message.sticker !== undefined
      ? `sticker ${message.sticker.emoji ?? ""}`.trim()
      : message.voice !== undefined
      ? "voice note"
      : message.video !== undefined
      ? "video"
      : "message"
    return operatorTexts.supportAttachment(kind, message.caption)
  })()
  return text.length > maxRelayedChars ? `${text.slice(0, maxRelayedChars)}…` : text
}

export const supportFeature = (env: BotEnv, deps: SupportFeatureDeps) => {
  const composer = new Composer<BotContext>()
  const open = (ctx: BotContext, text: string) =>
    Effect.gen(function*() {
      yield* ctx.user.ops.openSupport(yield* Clock.currentTimeMillis)
      yield* reply(env, ctx, text, cancelSupportKeyboard(ctx.texts))
    })

  composer.command(command("paysupport"), handler(env, "support.open", (ctx) => open(ctx, ctx.texts.paysupport)))

  composer.callbackQuery(/^support:/, handler(env, "support.button", (ctx) =>
    Effect.gen(function*() {
      const action = parseCallbackData(ctx.callbackQuery.data)
      if (action._tag !== "Support") return yield* answer(ctx, ctx.texts.staleButton)
      if (action.action === "open") {
        yield* answer(ctx)
        return yield* open(ctx, ctx.texts.support.prompt)
      }
      yield* ctx.user.ops.closeSupport
      yield* answer(ctx, ctx.texts.support.cancelled)
      const message = ctx.callbackQuery.message
      if (message !== undefined) {
        yield* env.gateway.editMessageText(message.chat.id, message.message_id, ctx.texts.support.cancelled).pipe(
          Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not update the support prompt", error))
        )
      }
    })))

  /** Whether this user has a request open now. */
  const requestOpen = (ctx: BotContext) => Effect.gen(function*() {
    const opened = yield* ctx.user.ops.supportOpenedAt
    const now = yield* Clock.currentTimeMillis
    return Option.isSome(opened) && now - opened.value < supportRequestLifetimeMs
  })

  const relay = (ctx: BotContext, message: Message) =>
    Effect.gen(function*() {
      const userId = ctx.user.ops.userId
      const requestKey = `support:${message.chat.id}:${message.message_id}`
      const payments = yield* deps.paymentsRepo.recentOf(userId, 3)
      const from = ctx.from!
      const text = operatorTexts.supportRequest(
        { id: from.id, name: from.first_name, username: from.username, language: from.language_code },
        yield* ctx.user.ops.balance,
        payments.map(({ paidAt, payment }) => ({ paidAt, stars: payment.stars, credits: payment.credits, state: payment.state })),
        relayedText(message)
      )
      let delivered = 0
      let transient: unknown = undefined
      for (const adminId of env.config.adminIds) {
        if (yield* deps.support.relayed(requestKey, adminId)) {
          delivered++
          continue
        }
        const sent = yield* Effect.either(env.gateway.sendMessage(adminId, text))
        if (sent._tag === "Right") {
          yield* deps.support.recordRelay(adminId, sent.right, { userId, requestKey })
          delivered++
        } else {
          yield* logFailure(LogLevel.Warning, "could not relay a support request to an admin", sent.left).pipe(
            Effect.annotateLogs({ adminId })
          )
          if (sent.left._tag === "TelegramTransientError") transient = sent.left
        }
      }
      // An admin Telegram may still take it later: the update is handled again, and the admins
      // who have their copy are skipped. One who blocked the bot is not waited for.
      if (transient !== undefined) return yield* Effect.fail(transient)
      yield* ctx.user.ops.closeSupport
      yield* Effect.logInfo(delivered > 0 ? "support request relayed" : "support request reached no admin").pipe(
        Effect.annotateLogs({ admins: delivered })
      )
      yield* reply(env, ctx, delivered > 0 ? ctx.texts.support.received : ctx.texts.support.unavailable)
    })

  /** An admin's reply to a relayed request; false when the message is no such reply. */
  const answerUser = (ctx: BotContext, message: Message) =>
    Effect.gen(function*() {
      const repliedTo = message.reply_to_message
      if (repliedTo === undefined) return false
      const relayOf = yield* deps.support.relayOf(message.chat.id, repliedTo.message_id)
      if (Option.isNone(relayOf)) return false
      const target = relayOf.value.userId
      if (message.text === undefined) {
        yield* reply(env, ctx, operatorTexts.supportAnswerNotText)
        return true
      }
      const texts = messagesFor(languageOf(yield* env.userRepo.languageOf(target)))
      const sent = yield* Effect.either(
        env.gateway.sendMessage(target, texts.support.answer(message.text), { keyboard: contactSupportKeyboard(texts) })
      )
      if (sent._tag === "Left") {
        if (sent.left._tag === "TelegramTransientError") return yield* Effect.fail(sent.left)
        yield* reply(env, ctx, operatorTexts.supportAnswerFailed(target, sent.left.message))
        return true
      }
      yield* Effect.logInfo("support answer sent").pipe(Effect.annotateLogs({ target }))
      yield* reply(env, ctx, operatorTexts.supportAnswerSent(target))
      const others = env.config.adminIds.filter((id) => id !== ctx.from?.id)
      const note = operatorTexts.supportAnsweredBy(ctx.from?.first_name ?? "An admin", target, message.text)
      yield* Effect.forEach(others, (adminId) =>
        env.gateway.sendMessage(adminId, note).pipe(
          Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not tell an admin that a request was answered", error))
        ), { discard: true })
      return true
    })

  // Ahead of the photo handler: a screenshot sent to support must not become a paid video.
  composer.on("message", async (ctx, next) => {
    const message = ctx.message
    if (isCommand(message) || message.successful_payment !== undefined) return next()
    let taken = false
    await handler(env, "support.message", (c: BotContext) =>
      Effect.gen(function*() {
        if (isAdmin(env, c)) taken = yield* answerUser(c, message)
        if (!taken && (yield* requestOpen(c))) {
          taken = true
          yield* relay(c, message)
        }
      }))(ctx)
    // A failed handling is tried again as a whole; it must not fall through to the photo handler meanwhile.
    if (!taken && ctx.user.unfinishedUpdate.cause === undefined) await next()
  })
  return composer
}
