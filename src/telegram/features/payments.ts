/**
 * Payments in the bot: the payments composers (src/payments/payments-composer.ts) with
 * this user's entity as the way to their own credits. The handlers run inside this user's
 * entity, so this user's grant goes through `ops`; another user's (an admin's /refund)
 * through that user's entity.
 */
import { Effect, Option } from "effect"
import type { PaymentService } from "../../payments/payment-service.js"
import { paymentCommandsComposer, paymentEventsComposer, type PaymentsBotDeps } from "../../payments/payments-composer.js"
import { creditsResolver, type UserCredits } from "../../payments/user-credits.js"
import type { BotContext, BotEnv } from "../context.js"

export interface PaymentsFeatureDeps {
  readonly payments: PaymentService
  readonly userCredits: UserCredits
}

const botDeps = (env: BotEnv, deps: PaymentsFeatureDeps): PaymentsBotDeps => ({
  payments: deps.payments,
  gateway: env.gateway,
  credits: creditsResolver(env.ops, deps.userCredits),
  balanceOf: (userId) => userId === env.ops.userId ? Effect.map(env.ops.balance, Option.some) : Effect.succeedNone,
  adminIds: env.config.adminIds,
  run: env.run,
  failed: (cause) => {
    env.unfinishedUpdate.cause ??= cause
  }
})

/** pre_checkout_query and successful_payment: ahead of the flood limit. */
export const paymentEventsFeature = (env: BotEnv, deps: PaymentsFeatureDeps) =>
  paymentEventsComposer<BotContext>(botDeps(env, deps))

/** /buy, the package buttons (also those of the "insufficient credits" message), /refund. */
export const paymentCommandsFeature = (env: BotEnv, deps: PaymentsFeatureDeps) =>
  paymentCommandsComposer<BotContext>(botDeps(env, deps))
