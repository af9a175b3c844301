/**
 * Invitations and promo codes in the bot: /invite, /promo CODE (and `start=promo_CODE`, from
 * /start), and the admins' /promo_new, /promo_list and /promo_disable. Credits move only in
 * this user's entity (`ops.redeemPromo`); an invitation is linked at registration
 * (src/telegram/bot.ts) and its bonus decided by the inviter's entity.
 */
import { Clock, Effect, Option } from "effect"
import { Composer } from "grammy"
import { inviteCodeOf, inviterOf, type PromoCode, promoCodeOf, promoStartParameter } from "../../domain/growth.js"
import { parsePromo, promoLimits } from "../../growth/promo-input.js"
import { operatorTexts } from "../../i18n/operator.js"
import { command } from "../commands.js"
import { type BotContext, type BotEnv, handler, reply } from "../context.js"
import { isAdmin } from "./admin.js"

/** The `start` parameter of a `/start <parameter>` message (a deep link), if any. */
export const startParameterOf = (ctx: BotContext): Option.Option<string> => {
  const match = /^\/start(?:@\w+)?\s+(\S+)\s*$/.exec(ctx.message?.text ?? "")
  return Option.fromNullable(match?.[1])
}

const deepLink = (ctx: BotContext, parameter: string) => `https://t.me/${ctx.me.username}?start=${parameter}`

/** Redeems `code` for this user and answers either way; a refusal is an answer, not a failure. */
export const redeemPromo = (env: BotEnv, ctx: BotContext, code: PromoCode) =>
  ctx.user.ops.redeemPromo(code, `promo:${ctx.update.update_id}`).pipe(
    Effect.flatMap((done) => reply(env, ctx, ctx.texts.promo.redeemed(done.credits, done.balance))),
    Effect.catchTag("PromoRefused", (refused) => reply(env, ctx, ctx.texts.promo.refused[refused.reason](refused.code)))
  )

/**
 * After the welcome of a `start=ref_…` link: tells a user linked to that inviter so (the link
 * was made at registration, src/telegram/bot.ts); anybody else hears nothing more.
 */
export const greetInvited = (env: BotEnv, ctx: BotContext) =>
  Effect.gen(function*() {
    const inviter = Option.flatMap(startParameterOf(ctx), inviterOf)
    if (Option.isNone(inviter)) return
    const referral = yield* env.growth.referrals.find(ctx.user.ops.userId)
    if (Option.isNone(referral) || referral.value.inviterId !== inviter.value) return
    const { bonus, trigger } = env.config.referral
    yield* reply(env, ctx, ctx.texts.invite.joined(bonus > 0 ? trigger : undefined))
  })

const promoLine = (promo: { code: string; credits: number; uses: number; maxUses: number; disabled: boolean; expiresAtMs: number | undefined }, nowMs: number) =>
  operatorTexts.promoListLine(
    promo.code,
    promo.credits,
    promo.uses,
    promo.maxUses,
    promo.disabled
      ? operatorTexts.promoDisabledState
      : promo.expiresAtMs !== undefined && promo.expiresAtMs <= nowMs
      ? operatorTexts.promoExpiredState
      : promo.uses >= promo.maxUses
      ? operatorTexts.promoUsedUpState
      : promo.expiresAtMs === undefined
      ? `${operatorTexts.promoActive}, ${operatorTexts.promoNever}`
      : `${operatorTexts.promoActive}, ${operatorTexts.promoExpiresAt(isoMinute(promo.expiresAtMs))}`
  )

const isoMinute = (millis: number) => new Date(millis).toISOString().slice(0, 16).replace("T", " ")

export const growthFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()

  composer.command(command("invite"), handler(env, "growth.invite", (ctx) =>
    Effect.gen(function*() {
      const summary = yield* env.growth.referrals.summaryOf(ctx.user.ops.userId)
      const { referral } = env.config
      yield* reply(env, ctx, ctx.texts.invite.offer({
        link: deepLink(ctx, inviteCodeOf(ctx.user.ops.userId)),
        bonus: referral.bonus,
        trigger: referral.trigger,
        friendGets: env.config.freeTokens,
        dailyCap: referral.dailyCap,
        ...summary
      }))
    })))

  composer.command(command("promo"), handler(env, "growth.promo", (ctx) => {
    const code = promoCodeOf(ctx.match)
    if (ctx.match.trim() === "") return reply(env, ctx, ctx.texts.promo.usage)
    // Not even the shape of a code: no such code, in the words of any other unknown one.
    return Option.isNone(code)
      ? reply(env, ctx, ctx.texts.promo.refused.unknown(ctx.match.trim().slice(0, 40)))
      : redeemPromo(env, ctx, code.value)
  }))

  // For admins only; to everybody else the commands do not exist.
  const admins = composer.filter((ctx) => isAdmin(env, ctx))

  admins.command(command("promo_new"), handler(env, "growth.promoNew", (ctx) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const parsed = parsePromo(ctx.match, now)
      switch (parsed._tag) {
        case "Usage":
          return yield* reply(env, ctx, operatorTexts.promoUsage)
        case "BadCode":
          return yield* reply(env, ctx, operatorTexts.promoBadCode(parsed.raw))
        case "OutOfRange":
          return yield* reply(env, ctx, operatorTexts.promoOutOfRange(promoLimits.credits, promoLimits.uses))
        case "BadExpiry":
          return yield* reply(env, ctx, operatorTexts.promoBadExpiry(parsed.raw))
        case "ExpiryPast":
          return yield* reply(env, ctx, operatorTexts.promoExpiryPast)
      }
      const created = yield* env.growth.promos.create({ ...parsed, createdBy: ctx.from!.id })
      if (!created) return yield* reply(env, ctx, operatorTexts.promoExists(parsed.code))
      yield* Effect.logInfo("promo code created").pipe(
        Effect.annotateLogs({ code: parsed.code, credits: parsed.credits, maxUses: parsed.maxUses })
      )
      const expires = parsed.expiresAtMs === undefined
        ? operatorTexts.promoNever
        : operatorTexts.promoExpiresAt(isoMinute(parsed.expiresAtMs))
      yield* reply(env, ctx, operatorTexts.promoCreated(parsed.code, parsed.credits, parsed.maxUses, expires, deepLink(ctx, promoStartParameter(parsed.code))))
    })))

  admins.command(command("promo_list"), handler(env, "growth.promoList", (ctx) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const promos = yield* env.growth.promos.list(30)
      yield* reply(env, ctx, promos.length === 0 ? operatorTexts.promoListEmpty : promos.map((promo) => promoLine(promo, now)).join("\n"))
    })))

  admins.command(command("promo_disable"), handler(env, "growth.promoDisable", (ctx) =>
    Effect.gen(function*() {
      const code = promoCodeOf(ctx.match)
      if (Option.isNone(code)) return yield* reply(env, ctx, operatorTexts.promoDisableUsage)
      const disabled = yield* env.growth.promos.disable(code.value)
      if (disabled) yield* Effect.logInfo("promo code disabled").pipe(Effect.annotateLogs({ code: code.value }))
      yield* reply(env, ctx, disabled ? operatorTexts.promoDisabled(code.value) : operatorTexts.promoNotFound(code.value))
    })))
  return composer
}
