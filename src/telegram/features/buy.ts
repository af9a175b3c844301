/**
 * No balance: the price list with a button per package. The purchase itself belongs to the
 * payments feature; until it exists the button says it is coming.
 */
import { Composer } from "grammy"
import type { Balance } from "../../domain/balance.js"
import { parseCallbackData } from "../callback-data.js"
import { answer, type BotContext, type BotEnv, handler, reply } from "../context.js"
import { buyKeyboard } from "../keyboards.js"

export const replyInsufficient = (env: BotEnv, ctx: BotContext, cost: number, balance: Balance) =>
  reply(
    env,
    ctx,
    ctx.texts.insufficient(cost, balance, env.config.starPackages),
    buyKeyboard(ctx.texts, env.config.starPackages)
  )

export const buyFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  composer.callbackQuery(/^buy:/, handler(env, "buy", (ctx) => {
    const action = parseCallbackData(ctx.callbackQuery.data ?? "")
    return action._tag === "Buy" && env.config.starPackages.some((p) => p.credits === action.credits)
      ? answer(ctx, ctx.texts.buyComingSoon, { alert: true })
      : answer(ctx, ctx.texts.staleButton)
  }))
  return composer
}
