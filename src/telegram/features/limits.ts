/**
 * The flood limit: a user's messages, edits and button presses per minute, counted in the
 * shared limits (Redis when REDIS_URL is set, so it holds across runners; this runner's
 * own count while Redis fails). Over the limit the update is dropped; the user is told once
 * per window. An edit counts as a message: each one is an update the bot must take in.
 *
 * An update counts once however often it is handled: a handling that met an outage is
 * handled again (src/telegram/update-failures.ts), and counting each handling would let a
 * long outage push the user over the limit and drop the very update it was retrying. The
 * updates already let through are remembered in this process (../counted-updates.ts,
 * shared with the poller, which counts the lone photos it reads); a redelivery on another
 * runner after a failover counts at most once more.
 */
import { Duration, Effect } from "effect"
import { Composer } from "grammy"
import type { LimitRequest } from "../../rate-limits/limit-request.js"
import { answer, type BotContext, type BotEnv, reply } from "../context.js"

/** One update of the user's, counted against the limit (the intake's lone photos count too). */
export const floodRequest = (userId: number, limitPerMinute: number): LimitRequest => ({
  key: `flood:${userId}`,
  limit: limitPerMinute,
  window: "1 minute",
  algorithm: "fixed-window",
  onExceeded: "fail"
})

export const floodFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  const limit = env.config.bot.floodLimitPerMinute
  const counted = env.countedUpdates

  const check = (ctx: BotContext) =>
    env.limiter.consume(floodRequest(ctx.user.ops.userId, limit)).pipe(
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
    const updateId = ctx.update.update_id
    if (!counted.has(updateId)) {
      if (!(await env.run(check(ctx)))) return
      counted.remember(updateId)
    }
    await next()
  })
  return composer
}
