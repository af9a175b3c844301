/**
 * /start (registration happened on first contact; this welcomes and explains), /help,
 * /balance and the pages Telegram requires of bots that sell.
 */
import { Effect, Option } from "effect"
import { promoCodeOfStart } from "../../domain/growth.js"
import { Composer } from "grammy"
import { operatorTexts } from "../../i18n/operator.js"
import { type BotContext, type BotEnv, handler, reply } from "../context.js"
import { isAdmin } from "./admin.js"
import { redeemPromo, startParameterOf } from "./growth.js"
import { currentSettings } from "./settings.js"

export const startFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()

  composer.command("start", handler(env, "start", (ctx) =>
    Effect.gen(function*() {
      const balance = yield* env.ops.balance
      const fresh = env.freshGrant.value
      env.freshGrant.value = 0
      yield* reply(env, ctx, ctx.texts.welcome(ctx.from?.first_name, fresh, balance))
      // A promo link (`start=promo_CODE`) redeems after the welcome, new user or not.
      const promo = Option.flatMap(startParameterOf(ctx), promoCodeOfStart)
      if (Option.isSome(promo)) yield* redeemPromo(env, ctx, promo.value)
    })))

  composer.command("help", handler(env, "help", (ctx) => {
    const defaults = currentSettings(env)
    const admin = isAdmin(env, ctx) ? `\n\n${operatorTexts.adminHelp}` : ""
    return Effect.flatMap(defaults, (settings) => reply(env, ctx, ctx.texts.help(settings.defaultCost, env.config.bot.barePhoto === "presets") + admin))
  }))

  composer.command("balance", handler(env, "balance", (ctx) =>
    Effect.gen(function*() {
      const settings = yield* currentSettings(env)
      yield* reply(env, ctx, ctx.texts.balance(yield* env.ops.balance, settings.cost))
    })))

  composer.command("privacy", handler(env, "privacy", (ctx) => reply(env, ctx, ctx.texts.privacy)))
  composer.command("terms", handler(env, "terms", (ctx) => reply(env, ctx, ctx.texts.terms)))
  composer.command("paysupport", handler(env, "paysupport", (ctx) => reply(env, ctx, ctx.texts.paysupport)))
  return composer
}
