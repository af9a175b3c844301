/**
 * The flood limit: a user's messages, edits and button presses per minute, counted in the
 * shared limits (Redis when REDIS_URL is set, so it holds across runners; this runner's
 * own count while Redis fails). Over the limit the update is dropped; the user is told once
 * per window. An edit counts as a message: each one is an update the bot must take in.
 */
import { Duration, Effect } from "effect"
import { Composer } from "grammy"
import { answer, type BotContext, type BotEnv, reply } from "../context.js"

export const floodFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  const limit = env.config.bot.floodLimitPerMinute

  const check = (ctx: BotContext) =>
    env.limiter.consume({
      key: `flood:${ctx.user.ops.userId}`,
      limit,
      window: "1 minute",
      algorithm: "fixed-window",
      onExceeded: "fail"
    }).pipe(
      Effect.as(true),
      Effect.catchAll((error) =>
        Effect.gen(function*() {
          const seconds = Math.max(1, Math.ceil(Duration.toMillis(error.retryAfter) / 1000))
          if (ctx.callbackQuery !== undefined) {
            yield* answer(ctx, ctx.texts.floodToast)
            return false
          }
          const warnedAlready = yield* env.limiter.consume({
            key: `flood-warned:${ctx.user.ops.userId}`,
            limit: 1,
            window: "1 minute",
            algorithm: "fixed-window",
            onExceeded: "fail"
          }).pipe(Effect.as(false), Effect.orElseSucceed(() => true))
          if (!warnedAlready) yield* reply(env, ctx, ctx.texts.flood(seconds))
          return false
        })
      )
    )

  composer.on(["message", "edited_message", "callback_query"], async (ctx, next) => {
    if (await env.run(check(ctx))) await next()
  })
  return composer
}
