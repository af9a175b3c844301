/**
 * The UserEntity's part in invitations and promo codes (docs/architecture.md, "Invitations
 * and promo codes"). Built once per activation from the entity's own ledger access, so every
 * credit still moves through the entity that owns the balance.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Effect, Metric, Option } from "effect"
import { AppConfig, type ReferralTrigger } from "../config/index.js"
import type { Balance } from "../domain/balance.js"
import type { PromoCode } from "../domain/growth.js"
import { UserId } from "../domain/ids.js"
import { PromoRefused } from "../errors/index.js"
import { PromoCodesRepo } from "../growth/promo-codes-repo.js"
import { makeReferralQualification } from "../growth/referral-qualification.js"
import { type ReferralOutcome, ReferralsRepo } from "../growth/referrals-repo.js"
import { promoRedemptions, referralBonuses } from "../observability/metrics.js"
import { type PromoRedeemed, UserUpdates } from "../protocols/user-protocol.js"
import type { CreditLedger, LedgerEntry } from "../storage/credit-ledger.js"
import { UsersRepo } from "../storage/users-repo.js"

export interface LedgerAccess {
  readonly userId: UserId
  readonly applyEntry: (
    entry: Omit<LedgerEntry, "id">
  ) => Effect.Effect<Effect.Effect.Success<ReturnType<CreditLedger["apply"]>>, SqlError>
  readonly transactional: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  readonly balance: Effect.Effect<Balance>
  /** Writes a first contact that is still pending, so rows that refer to the user can follow. */
  readonly registered: Effect.Effect<void, SqlError>
}

const utcDay = (millis: number) => new Date(millis).toISOString().slice(0, 10)

export const makeGrowthOps = (access: LedgerAccess) =>
  Effect.gen(function*() {
    const { applyEntry, balance, transactional, userId } = access
    const referrals = yield* ReferralsRepo
    const promos = yield* PromoCodesRepo
    const usersRepo = yield* UsersRepo
    const { referral } = yield* AppConfig
    const qualification = yield* makeReferralQualification
    const updates = yield* Effect.serviceOption(UserUpdates)

    /**
     * Inside the registration's transaction, on the user's first contact ever: links them to
     * a known inviter other than themselves. Anything else is ignored (a stale or forged link
     * still starts the bot).
     */
    const linkInviter = (inviterId: UserId) =>
      Effect.gen(function*() {
        if (inviterId === userId || !(yield* usersRepo.exists(inviterId))) return false
        const linked = yield* referrals.link(userId, inviterId)
        if (linked) yield* Effect.logInfo("invited user linked").pipe(Effect.annotateLogs({ inviterId }))
        return linked
      })

    /** After this user's purchase or delivered video (../growth/referral-qualification.ts). */
    const qualify = (trigger: ReferralTrigger) => qualification.qualify(userId, trigger)

    /** In the inviter's entity: the bonus for one qualified invitation, decided once. */
    const receiveBonus = (inviteeId: UserId) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const decided = yield* transactional(Effect.gen(function*() {
          const found = yield* referrals.find(inviteeId)
          if (Option.isNone(found) || found.value.inviterId !== userId || !found.value.qualified) {
            return { outcome: "not-found" as const, fresh: false }
          }
          if (found.value.outcome !== undefined) return { outcome: found.value.outcome, fresh: false }
          const day = utcDay(now)
          const outcome: ReferralOutcome = referral.bonus === 0
            ? "disabled"
            : (yield* referrals.grantedOn(userId, day)) >= referral.dailyCap
            ? "capped"
            : "granted"
          if (outcome === "granted") {
            yield* applyEntry({
              userId,
              opKey: `referral:${inviteeId}`,
              kind: "referral_bonus",
              deltaCredits: 0,
              deltaFree: referral.bonus,
              note: `invited ${inviteeId}`
            })
          }
          yield* referrals.settle(inviteeId, outcome, outcome === "granted" ? referral.bonus : 0, day)
          return { outcome, fresh: true }
        }))
        if (decided.fresh && decided.outcome !== "not-found") {
          yield* Metric.increment(Metric.tagged(referralBonuses, "outcome", decided.outcome))
          yield* Effect.logInfo(`referral bonus ${decided.outcome}`).pipe(
            Effect.annotateLogs({ inviteeId, bonus: referral.bonus, dailyCap: referral.dailyCap })
          )
        }
        if (decided.fresh && decided.outcome === "granted" && Option.isSome(updates)) {
          yield* updates.value.notify(userId, { _tag: "ReferralBonus", credits: referral.bonus, balance: yield* balance })
        }
        return decided.outcome
      }).pipe(Effect.orDie)

    /**
     * Checks first, for the refusal the user is told; the claim then decides atomically, so
     * a code that ran out (or was disabled) in between is refused as well.
     */
    const redeemPromo = (code: PromoCode, requestKey: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const refuse = (reason: PromoRefused["reason"]) => new PromoRefused({ code, reason })
        const found = yield* promos.find(code)
        if (Option.isNone(found)) return yield* refuse("unknown")
        const promo = found.value
        const previous = yield* promos.redemptionOf(code, userId)
        if (Option.isSome(previous)) {
          // The same request again (an update handled twice): the answer it got the first time.
          if (previous.value.requestKey === requestKey) {
            return { credits: previous.value.credits, balance: yield* balance } satisfies PromoRedeemed
          }
          return yield* refuse("already-redeemed")
        }
        if (promo.disabled) return yield* refuse("disabled")
        if (promo.expiresAtMs !== undefined && promo.expiresAtMs <= now) return yield* refuse("expired")
        yield* access.registered
        if (!(yield* promos.claim(code, userId, requestKey, promo.credits, now))) {
          const after = yield* promos.find(code)
          return yield* refuse(Option.isSome(after) && after.value.disabled ? "disabled" : "exhausted")
        }
        const result = yield* applyEntry({
          userId,
          opKey: `promo:${code}:${userId}`,
          kind: "promo",
          deltaCredits: 0,
          deltaFree: promo.credits,
          note: code
        })
        yield* Effect.logInfo("promo code redeemed").pipe(Effect.annotateLogs({ code, credits: promo.credits }))
        yield* Metric.increment(Metric.tagged(promoRedemptions, "outcome", "redeemed"))
        return { credits: promo.credits, balance: result.balance } satisfies PromoRedeemed
      }).pipe(
        transactional,
        Effect.catchTag("SqlError", Effect.die),
        Effect.tapError((refused) =>
          Effect.logInfo("promo code refused").pipe(
            Effect.annotateLogs({ code, reason: refused.reason }),
            Effect.zipRight(Metric.increment(Metric.tagged(promoRedemptions, "outcome", refused.reason)))
          ))
      )

    return { linkInviter, qualify, receiveBonus, redeemPromo } as const
  })
