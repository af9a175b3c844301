/**
 * /start (registration happened on first contact; this welcomes and explains), /help,
 * /balance and the pages Telegram requires of bots that sell.
 */
import { Effect } from "effect"
import { Composer } from "grammy"
import { operatorTexts } from "../../i18n/operator.js"
import { type BotContext, type BotEnv, handler, reply } from "../context.js"
import { isAdmin } from "./admin.js"
import { currentSettings } from "./settings.js"

export const startFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()

  composer.command("start", handler(env, "start", (ctx) =>
    Effect.gen(function*() {
      const balance = yield* ctx.user.ops.balance
      const fresh = yield* ctx.user.ops.takeFreshGrant
      yield* reply(env, ctx, ctx.texts.welcome(ctx.from?.first_name, fresh, balance))
    })))

  composer.command("help", handler(env, "help", (ctx) => {
    const defaults = currentSettings(env, ctx)
    const admin = isAdmin(env, ctx) ? `\n\n${operatorTexts.adminHelp}` : ""
    return Effect.flatMap(defaults, (settings) => reply(env, ctx, ctx.texts.help(settings.defaultCost) + admin))
  }))

  composer.command("balance", handler(env, "balance", (ctx) =>
    Effect.gen(function*() {
      const settings = yield* currentSettings(env, ctx)
      yield* reply(env, ctx, ctx.texts.balance(yield* ctx.user.ops.balance, settings.cost))
    })))

  composer.command("privacy", handler(env, "privacy", (ctx) => reply(env, ctx, ctx.texts.privacy)))
  composer.command("terms", handler(env, "terms", (ctx) => reply(env, ctx, ctx.texts.terms)))
  composer.command("paysupport", handler(env, "paysupport", (ctx) => reply(env, ctx, ctx.texts.paysupport)))
  return composer
}
