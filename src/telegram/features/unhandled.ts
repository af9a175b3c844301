/**
 * Last in the chain: whatever no feature took. Unknown commands, things that cannot become
 * a video (text, stickers, videos, voice notes…), and button presses nobody knows (forged,
 * or from an older keyboard) each get a short, polite answer that costs nothing.
 */
import { Composer } from "grammy"
import { answer, type BotContext, type BotEnv, handler, reply } from "../context.js"

export const unhandledFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  composer.on("message::bot_command", handler(env, "unknownCommand", (ctx) => reply(env, ctx, ctx.texts.unknownCommand)))
  composer.on("message", handler(env, "hint", (ctx) => reply(env, ctx, ctx.texts.hint)))
  composer.on("callback_query", handler(env, "unknownButton", (ctx) => answer(ctx, ctx.texts.staleButton)))
  return composer
}
