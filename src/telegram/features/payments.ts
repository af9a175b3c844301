/**
 * Payments in the bot: /buy and its package buttons (the "insufficient credits" message
 * offers the same buttons), the pre-checkout answer, successful_payment and the admins'
 * /refund. The business rules are PaymentService's (src/payments/); these handlers only
 * turn updates into its calls and its answers into messages.
 *
 * The handlers run inside this user's entity, so this user's credits are reached through
 * `ops`; another user's (an admin's /refund) through that user's entity.
 */
import { Effect } from "effect"
import { Composer } from "grammy"
import type { Balance } from "../../domain/balance.js"
import type { PaymentService } from "../../payments/payment-service.js"
import { operatorTexts } from "../../i18n/operator.js"
import { creditsResolver, type UserCredits } from "../../payments/user-credits.js"
import { parseCallbackData } from "../callback-data.js"
import { answer, type BotContext, type BotEnv, handler, reply } from "../context.js"
import { buyKeyboard } from "../keyboards.js"
import { command } from "../commands.js"
import { isAdmin } from "./admin.js"
import { currentPrice } from "./settings.js"

export interface PaymentsFeatureDeps {
  readonly payments: PaymentService
  readonly userCredits: UserCredits
}

/** Not enough credits for a video: what it costs, and the packages to buy. */
export const replyInsufficient = (env: BotEnv, ctx: BotContext, cost: number, balance: Balance) =>
  reply(env, ctx, ctx.texts.insufficient(cost, balance, env.config.starPackages), buyKeyboard(ctx.texts, env.config.starPackages))

/**
 * pre_checkout_query and successful_payment. The bot puts these ahead of its flood limit:
 * a payment is money already taken, and a checkout left unanswered fails.
 */
export const paymentEventsFeature = (env: BotEnv, deps: PaymentsFeatureDeps) => {
  const composer = new Composer<BotContext>()
  const credits = (ctx: BotContext) => creditsResolver(ctx.user.ops, deps.userCredits)

  // Telegram gives the bot 10 s, and this answer needs neither the cluster nor SQL.
  composer.on("pre_checkout_query", handler(env, "payments.preCheckout", (ctx) => {
    const query = ctx.preCheckoutQuery
    return deps.payments.answerPreCheckout(query.id, {
      fromUserId: query.from.id,
      currency: query.currency,
      totalAmount: query.total_amount,
      invoicePayload: query.invoice_payload
    }, ctx.lang)
  }))

  composer.on("message:successful_payment", handler(env, "payments.successfulPayment", (ctx) => {
    const paid = ctx.message.successful_payment
    const texts = ctx.texts.payments
    return deps.payments.completePayment({
      chargeId: paid.telegram_payment_charge_id,
      userId: ctx.from.id,
      currency: paid.currency,
      totalAmount: paid.total_amount,
      invoicePayload: paid.invoice_payload
    }, credits(ctx)(ctx.from.id)).pipe(
      Effect.flatMap((done) =>
        Effect.flatMap(currentPrice(env, ctx), (price) => reply(env, ctx, texts.thanks(done.payment.credits, done.balance, price)))
      ),
      Effect.catchTag("UnverifiablePayment", () => reply(env, ctx, texts.paymentProblem))
    )
  }))
  return composer
}

/** /buy, the package buttons, /refund (admins). /paysupport and /terms are the start feature's. */
export const paymentCommandsFeature = (env: BotEnv, deps: PaymentsFeatureDeps) => {
  const composer = new Composer<BotContext>()
  const credits = (ctx: BotContext) => creditsResolver(ctx.user.ops, deps.userCredits)

  composer.command(command("buy"), handler(env, "payments.buy", (ctx) =>
    Effect.gen(function*() {
      const balance = yield* ctx.user.ops.balance
      const price = yield* currentPrice(env, ctx)
      yield* reply(env, ctx, ctx.texts.payments.buyIntro(balance, price), buyKeyboard(ctx.texts, env.config.starPackages))
    })))

  composer.callbackQuery(/^buy:/, handler(env, "payments.buyPackage", (ctx) =>
    Effect.gen(function*() {
      const action = parseCallbackData(ctx.callbackQuery.data)
      if (action._tag !== "Buy") return yield* answer(ctx, ctx.texts.staleButton)
      const sent = yield* deps.payments.sendInvoice(ctx.chat?.id ?? ctx.from.id, ctx.from.id, action.credits, ctx.lang)
      yield* sent._tag === "Some" ? answer(ctx) : answer(ctx, ctx.texts.payments.packageGone, { alert: true })
    })))

  // For admins only; to everybody else the command does not exist.
  const admins = composer.filter((ctx) => isAdmin(env, ctx))
  admins.command(command("refund"), handler(env, "payments.refund", (ctx) =>
    Effect.gen(function*() {
      const chargeId = ctx.match.trim()
      if (chargeId === "" || /\s/.test(chargeId)) return yield* reply(env, ctx, operatorTexts.refundUsage)
      // One refund request per admin message: a refusal is final for this message only.
      const requestKey = `refund:${ctx.chat.id}:${ctx.msg.message_id}`
      const text = yield* deps.payments.refund(chargeId, requestKey, credits(ctx)).pipe(
        Effect.map(({ payment }) => operatorTexts.refundDone(chargeId, payment.userId, payment.stars, payment.credits)),
        Effect.catchTags({
          PaymentNotFound: () => Effect.succeed(operatorTexts.refundNotFound(chargeId)),
          PaymentAlreadyRefunded: () => Effect.succeed(operatorTexts.refundAlready(chargeId)),
          CreditsAlreadySpent: (e) => Effect.succeed(operatorTexts.refundSpent(chargeId, e.credits, e.available)),
          TelegramPermanentError: (e) => Effect.succeed(operatorTexts.refundTelegramFailed(chargeId, e.message)),
          TelegramTransientError: (e) => Effect.succeed(operatorTexts.refundTelegramFailed(chargeId, e.message))
        })
      )
      yield* reply(env, ctx, text)
    })))
  return composer
}
