/**
 * The payment commands and updates as a grammY Composer: /buy and its package buttons
 * (the "insufficient credits" message uses the same `buy:<credits>` buttons), the
 * pre-checkout answer, successful_payment and the admins' /refund.
 *
 * It takes its dependencies explicitly so the bot (src/telegram/features/payments.ts) and
 * the tests build it the same way. Every handler is one Effect run through `run`; its
 * failures are logged, never thrown back at grammY.
 */
import { Cause, Effect, LogLevel, Option } from "effect"
import { logFailure } from "../observability/error-summary.js"
import { Composer, type Context } from "grammy"
import type { StarPackage } from "../config/index.js"
import type { InlineKeyboard, TelegramGatewayService } from "../telegram/gateway.js"
import { type Language, languageOf } from "../telegram/texts.js"
import type { PaymentService } from "./payment-service.js"
import { adminTexts, paymentTexts } from "./texts.js"
import type { CreditPort } from "./user-credits.js"
import type { Balance } from "../domain/balance.js"

export interface PaymentsBotDeps {
  readonly payments: PaymentService
  readonly gateway: TelegramGatewayService
  /** Where a user's credits are reached from this bot (see user-credits.ts). */
  readonly credits: (userId: number) => CreditPort
  /** The sender's balance, for the /buy message; None when not known here. */
  readonly balanceOf: (userId: number) => Effect.Effect<Option.Option<Balance>>
  readonly adminIds: ReadonlyArray<number>
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
}

export const buyData = (credits: number) => `buy:${credits}`
const BUY = /^buy:(\d{1,6})$/

export const buyKeyboard = (lang: Language, packages: ReadonlyArray<StarPackage>): InlineKeyboard =>
  packages.map((p) => [{ text: paymentTexts(lang).packageButton(p), callbackData: buyData(p.credits) }])

const langOf = (ctx: Context): Language => languageOf(ctx.from?.language_code)

const handlers = <C extends Context>(deps: PaymentsBotDeps) => {
  const handle = <X extends Context>(name: string, body: (ctx: X) => Effect.Effect<void, unknown>) => (ctx: X): Promise<void> =>
    deps.run(
      body(ctx).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(`payments handler ${name} failed`, cause)
        ),
        Effect.annotateLogs({ handler: name, updateId: ctx.update.update_id, userId: ctx.from?.id ?? 0 }),
        Effect.withSpan(`Bot.payments.${name}`)
      )
    )
  const send = (chatId: number, text: string, keyboard?: InlineKeyboard) =>
    deps.gateway.sendMessage(chatId, text, { keyboard }).pipe(
      Effect.asVoid,
      Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not reply", error))
    )

  const events = new Composer<C>()
  // Telegram gives the bot 10 s, and this answer needs neither the cluster nor SQL.
  events.on("pre_checkout_query", handle("preCheckout", (ctx) => {
    const query = ctx.preCheckoutQuery
    return deps.payments.answerPreCheckout(query.id, {
      fromUserId: query.from.id,
      currency: query.currency,
      totalAmount: query.total_amount,
      invoicePayload: query.invoice_payload
    }, langOf(ctx)).pipe(Effect.asVoid)
  }))

  events.on("message:successful_payment", handle("successfulPayment", (ctx) => {
    const paid = ctx.message.successful_payment
    const userId = ctx.from.id
    const texts = paymentTexts(langOf(ctx))
    return deps.payments.completePayment({
      chargeId: paid.telegram_payment_charge_id,
      userId,
      currency: paid.currency,
      totalAmount: paid.total_amount,
      invoicePayload: paid.invoice_payload
    }, deps.credits(userId)).pipe(
      Effect.flatMap((done) => send(ctx.chat.id, texts.thanks(done.payment.credits, done.balance))),
      Effect.catchTag("UnverifiablePayment", () => send(ctx.chat.id, texts.paymentProblem))
    )
  }))

  const commands = new Composer<C>()
  commands.command("buy", handle("buy", (ctx) =>
    Effect.gen(function*() {
      const lang = langOf(ctx)
      const balance = ctx.from === undefined ? Option.none() : yield* deps.balanceOf(ctx.from.id)
      yield* send(
        ctx.chat.id,
        paymentTexts(lang).buyIntro(Option.getOrUndefined(balance)),
        buyKeyboard(lang, deps.payments.packages)
      )
    })))

  commands.callbackQuery(BUY, handle("buyPackage", (ctx) =>
    Effect.gen(function*() {
      const lang = langOf(ctx)
      const credits = Number(BUY.exec(ctx.callbackQuery.data)![1])
      const chatId = ctx.chat?.id ?? ctx.from.id
      const sent = yield* deps.payments.sendInvoice(chatId, ctx.from.id, credits, lang)
      yield* Effect.tryPromise(() =>
        Option.isSome(sent)
          ? ctx.answerCallbackQuery()
          : ctx.answerCallbackQuery({ text: paymentTexts(lang).packageGone, show_alert: true })
      ).pipe(Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not answer the callback query", error)))
    })))

  // For admins only; to everybody else the command does not exist.
  const admins = commands.filter((ctx) => ctx.from !== undefined && deps.adminIds.includes(ctx.from.id))
  admins.command("refund", handle("refund", (ctx) =>
    Effect.gen(function*() {
      const chatId = ctx.chat.id
      const chargeId = ctx.match.trim()
      if (chargeId === "" || /\s/.test(chargeId)) return yield* send(chatId, adminTexts.refundUsage)
      // One refund request per admin message: a refusal is final for this message only.
      const requestKey = `refund:${chatId}:${ctx.msg.message_id}`
      const text = yield* deps.payments.refund(chargeId, requestKey, deps.credits).pipe(
        Effect.map(({ payment }) => adminTexts.refundDone(chargeId, payment.userId, payment.stars, payment.credits)),
        Effect.catchTags({
          PaymentNotFound: () => Effect.succeed(adminTexts.refundNotFound(chargeId)),
          PaymentAlreadyRefunded: () => Effect.succeed(adminTexts.refundAlready(chargeId)),
          CreditsAlreadySpent: (e) => Effect.succeed(adminTexts.refundSpent(chargeId, e.credits, e.available)),
          TelegramPermanentError: (e) => Effect.succeed(adminTexts.refundTelegramFailed(chargeId, e.message)),
          TelegramTransientError: (e) => Effect.succeed(adminTexts.refundTelegramFailed(chargeId, e.message))
        })
      )
      yield* send(chatId, text)
    })))


  return { events, commands }
}

/**
 * pre_checkout_query and successful_payment. The bot puts these ahead of its flood limit:
 * a payment is money already taken, and a checkout left unanswered fails.
 */
export const paymentEventsComposer = <C extends Context>(deps: PaymentsBotDeps): Composer<C> => handlers<C>(deps).events

/** /buy, the package buttons, /refund (admins). /paysupport and /terms are the start feature's. */
export const paymentCommandsComposer = <C extends Context>(deps: PaymentsBotDeps): Composer<C> => handlers<C>(deps).commands

/** Both, events first. */
export const paymentsComposer = <C extends Context>(deps: PaymentsBotDeps): Composer<C> => {
  const { commands, events } = handlers<C>(deps)
  return new Composer<C>(events, commands)
}
