/**
 * /start (registration happened on first contact; this welcomes and explains), /help,
 * /balance and the pages Telegram requires of bots that sell. Each shows what a video costs
 * with the user's current settings; /paysupport is the support feature's (./support.ts).
 */
import { Effect, Option } from "effect"
import { promoCodeOfStart } from "../../domain/growth.js"
import { Composer } from "grammy"
import { operatorTexts } from "../../i18n/operator.js"
import { command } from "../commands.js"
import { type BotContext, type BotEnv, handler, reply } from "../context.js"
import { contactSupportKeyboard } from "../keyboards.js"
import { isAdmin } from "./admin.js"
import { greetInvited, redeemPromo, startParameterOf } from "./growth.js"
import { currentPrice } from "./settings.js"

export const startFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()

  composer.command(command("start"), handler(env, "start", (ctx) =>
    Effect.gen(function*() {
      const balance = yield* ctx.user.ops.balance
      const price = yield* currentPrice(env, ctx)
      const fresh = yield* ctx.user.ops.takeFreshGrant
      yield* reply(env, ctx, ctx.texts.welcome(ctx.from?.first_name, fresh, balance, price))
      // A promo link (`start=promo_CODE`) redeems after the welcome, new user or not.
      const promo = Option.flatMap(startParameterOf(ctx), promoCodeOfStart)
      if (Option.isSome(promo)) yield* redeemPromo(env, ctx, promo.value)
      yield* greetInvited(env, ctx)
    })))

  composer.command(command("help"), handler(env, "help", (ctx) =>
    Effect.gen(function*() {
      const price = yield* currentPrice(env, ctx)
      const admin = isAdmin(env, ctx) ? `\n\n${operatorTexts.adminHelp}` : ""
      yield* reply(env, ctx, ctx.texts.help(price, env.config.bot.barePhoto === "presets") + admin, contactSupportKeyboard(ctx.texts))
    })))

  composer.command(command("balance"), handler(env, "balance", (ctx) =>
    Effect.gen(function*() {
      const price = yield* currentPrice(env, ctx)
      yield* reply(env, ctx, ctx.texts.balance(yield* ctx.user.ops.balance, price))
    })))

  composer.command(
    command("privacy"),
    handler(env, "privacy", (ctx) => reply(env, ctx, ctx.texts.privacy, contactSupportKeyboard(ctx.texts)))
  )
  composer.command(command("terms"), handler(env, "terms", (ctx) => reply(env, ctx, ctx.texts.terms)))
  return composer
}
