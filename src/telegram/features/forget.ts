/**
 * `/forget <user id>` (admins): deletes what the privacy text promises, in the user's own
 * entity (`Forget`, src/users/forget-user.ts), and tells the user in their language. Only the
 * payments and the credit ledger stay, as the law requires. A second /forget finds nothing
 * left, says so, and does not write to the user again.
 */
import { Effect, LogLevel } from "effect"
import { Composer } from "grammy"
import { UserId } from "../../domain/ids.js"
import { languageOf, messagesFor } from "../../i18n/index.js"
import { operatorTexts } from "../../i18n/operator.js"
import { logFailure } from "../../observability/error-summary.js"
import { command } from "../commands.js"
import { type BotContext, type BotEnv, handler, reply } from "../context.js"
import { isAdmin } from "./admin.js"

/** The one argument of /forget: a Telegram user id, or undefined. */
export const parseForget = (args: string): UserId | undefined => {
  const match = /^\s*(\d+)\s*$/.exec(args)
  const id = match === null ? NaN : Number(match[1])
  return Number.isSafeInteger(id) && id > 0 ? UserId.make(id) : undefined
}

export const forgetFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  const admins = composer.filter((ctx) => isAdmin(env, ctx))

  admins.command(command("forget"), handler(env, "admin.forget", (ctx) =>
    Effect.gen(function*() {
      const target = parseForget(ctx.match)
      if (target === undefined) return yield* reply(env, ctx, operatorTexts.forgetUsage)
      if (!(yield* env.userRepo.exists(target))) return yield* reply(env, ctx, operatorTexts.grantNoSuchUser(target))
      // Read before it is erased: the user is told in their own language.
      const texts = messagesFor(languageOf(yield* env.userRepo.languageOf(target)))
      // An admin forgetting themselves is handled here: their own entity is busy with this update.
      const report = target === ctx.user.ops.userId
        ? yield* ctx.user.ops.forget
        : yield* env.users(String(target)).Forget({ requestKey: `forget:${ctx.update.update_id}` })
      const erased = report.profile || report.settings ||
        report.jobs + report.supportRecords + report.setAsideUpdates + report.updates > 0
      const told = erased
        ? yield* env.gateway.sendMessage(target, texts.support.forgotten).pipe(
          Effect.as(operatorTexts.forgetTold),
          Effect.catchAll((error) =>
            Effect.as(
              logFailure(LogLevel.Warning, "could not tell a user that their data was deleted", error),
              operatorTexts.forgetNotTold(error.message)
            )
          )
        )
        : ""
      yield* Effect.logInfo("admin forgot a user").pipe(Effect.annotateLogs({ target }))
      yield* reply(env, ctx, operatorTexts.forgetDone(target, report, told))
    })))
  return composer
}
