/**
 * The invited side of an invitation (docs/architecture.md, "Invitations and promo codes"):
 * after the invited user's purchase or delivered video, on the configured trigger, marks the
 * invitation qualified and asks the inviter's entity for the bonus. Asked again on every later
 * trigger until the inviter decided: the message's key makes repeats harmless, and a crash
 * between the qualification and the message loses nothing. The user entity calls it after a
 * purchase; the job, when it writes its delivered state (a capture no longer visits the user).
 */
import { Effect, Option } from "effect"
import { AppConfig, type ReferralTrigger } from "../config/index.js"
import type { UserId } from "../domain/ids.js"
import { UserEntity } from "../protocols/user-protocol.js"
import { ReferralsRepo } from "./referrals-repo.js"

export const makeReferralQualification = Effect.gen(function*() {
  const referrals = yield* ReferralsRepo
  const { referral } = yield* AppConfig
  const users = yield* UserEntity.client

  const qualify = (inviteeId: UserId, trigger: ReferralTrigger) =>
    trigger !== referral.trigger ? Effect.void : Effect.gen(function*() {
      const found = yield* referrals.qualify(inviteeId)
      if (Option.isNone(found) || found.value.outcome !== undefined) return
      yield* users(String(found.value.inviterId)).ReferralBonus({ inviteeId }, { discard: true })
    }).pipe(Effect.orDie)

  return { qualify } as const
})
