/** The user blocked or unblocked the bot: kept on the user's row (`users.blocked_at`). */
import { Composer } from "grammy"
import { type BotContext, type BotEnv, handler } from "../context.js"

export const membershipFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  composer.on("my_chat_member", handler(env, "membership", (ctx) => {
    const status = ctx.myChatMember.new_chat_member.status
    return env.userRepo.markBlocked(ctx.user.ops.userId, status === "kicked")
  }))
  return composer
}
