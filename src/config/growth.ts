/** Invitations: what an inviter earns, when, and how often a day. */
import { Config } from "effect"
import { integerIn, literal } from "./parsers.js"

export type ReferralTrigger = "purchase" | "delivered"

export const referralSettings = Config.all({
  /** Free credits an inviter gets per invited user who qualifies; 0 turns the bonus off. */
  bonus: integerIn("REFERRAL_BONUS", 0, 1000, 2),
  /** What qualifies the invited user: their first Stars purchase or their first delivered video. */
  trigger: literal("REFERRAL_TRIGGER", ["purchase", "delivered"], "purchase"),
  /** Bonuses one inviter may receive per UTC day; qualifying invitations past it earn nothing. */
  dailyCap: integerIn("REFERRAL_DAILY_CAP", 1, 10_000, 10)
})

export type ReferralSettings = Config.Config.Success<typeof referralSettings>
