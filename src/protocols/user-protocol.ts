/**
 * The UserEntity's protocol (id = Telegram user id): its messages and what they carry.
 * The entity owns a user's money, paid credits and free tokens.
 *
 * Every message that changes money is persisted and carries the key that makes a replay
 * harmless (its `primaryKey`). A persisted message's stored reply, a failure included, is
 * the answer for that key forever (docs/architecture.md, "Cluster pitfalls").
 */
import { ClusterSchema, Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import type { SqlError } from "@effect/sql/SqlError"
import { Context, type Effect, type Option, Schema } from "effect"
import { Balance, ReservationSplit } from "../domain/balance.js"
import type { PromoCode } from "../domain/growth.js"
import { JobId, RequestKey, UserId } from "../domain/ids.js"
import type { TelegramUpdate } from "../domain/telegram-update.js"
import { UserProfile } from "../domain/user-profile.js"
import type { ChosenSettings } from "../domain/user-settings.js"
import { InsufficientCredits, type PromoRefused, RevokeError, SettlementError } from "../errors/index.js"

export const PhotoRef = Schema.Struct({
  fileId: Schema.String,
  fileSize: Schema.optional(Schema.Int)
})

export class Registered extends Schema.Class<Registered>("Registered")({
  balance: Balance,
  newlyGranted: Schema.Boolean
}) {}

export class JobStarted extends Schema.Class<JobStarted>("JobStarted")({
  jobId: JobId,
  balance: Balance,
  split: ReservationSplit
}) {}

const PositiveUnits = Schema.Int.pipe(Schema.positive())

export const Register = Rpc.make("Register", {
  payload: { requestKey: RequestKey, profile: UserProfile },
  success: Registered,
  primaryKey: ({ requestKey }) => requestKey
}).annotate(ClusterSchema.Persisted, true)

export const GetBalance = Rpc.make("GetBalance", { success: Balance })

const StartJobFields = {
  requestKey: RequestKey,
  chatId: Schema.Int,
  photo: PhotoRef,
  prompt: Schema.String,
  model: Schema.String,
  durationSeconds: Schema.Int.pipe(Schema.positive()),
  cost: PositiveUnits,
  /** The user's Telegram language, for the job's messages. */
  languageCode: Schema.optional(Schema.String)
}

export const StartJob = Rpc.make("StartJob", {
  payload: StartJobFields,
  success: JobStarted,
  error: InsufficientCredits,
  primaryKey: ({ requestKey }) => requestKey
}).annotate(ClusterSchema.Persisted, true)

/**
 * A settlement is keyed by its job, and by `attempt` when the job asks again because a reply
 * never came (a message lost in a shard hand-over): the ledger's unique (job, kind) keeps a
 * repeated settlement from moving money twice, so a fresh key is safe where waiting is not.
 *
 * Uninterruptible from the client: a job that stops waiting (its reply timeout, a restart)
 * does not cancel a settlement it asked for, which would store the interruption as the
 * reply to its key.
 */
const settlementKey = ({ attempt, jobId }: { readonly jobId: JobId; readonly attempt?: number | undefined }) =>
  attempt === undefined || attempt === 0 ? jobId : `${jobId}#${attempt}`

export const Capture = Rpc.make("Capture", {
  payload: { jobId: JobId, attempt: Schema.optional(Schema.NonNegativeInt) },
  success: Balance,
  error: SettlementError,
  primaryKey: settlementKey
}).annotate(ClusterSchema.Persisted, true).annotate(ClusterSchema.Uninterruptible, "client")

export const Refund = Rpc.make("Refund", {
  payload: { jobId: JobId, reason: Schema.String, attempt: Schema.optional(Schema.NonNegativeInt) },
  success: Balance,
  error: SettlementError,
  primaryKey: settlementKey
}).annotate(ClusterSchema.Persisted, true).annotate(ClusterSchema.Uninterruptible, "client")

export const Grant = Rpc.make("Grant", {
  payload: { paymentId: Schema.String.pipe(Schema.minLength(1)), credits: PositiveUnits },
  success: Balance,
  primaryKey: ({ paymentId }) => paymentId
}).annotate(ClusterSchema.Persisted, true)

/**
 * Takes back the credits of a refunded Stars payment, only while the user still holds them.
 * Keyed by the refund request, not the payment: a refusal (credits spent) is the final
 * answer for that request only, so a later request is judged afresh.
 * The ledger's unique (payment_id, kind) keeps it to once per payment.
 */
export const RevokePayment = Rpc.make("RevokePayment", {
  payload: { requestKey: RequestKey, paymentId: Schema.String.pipe(Schema.minLength(1)) },
  success: Balance,
  error: RevokeError,
  primaryKey: ({ requestKey }) => requestKey
}).annotate(ClusterSchema.Persisted, true)

const AdjustFields = {
  adjustmentId: Schema.String.pipe(Schema.minLength(1)),
  adminId: Schema.Int,
  delta: Schema.Int.pipe(Schema.filter((n) => n !== 0, { message: () => "delta must not be 0" })),
  note: Schema.String.pipe(Schema.minLength(1))
}

export const Adjust = Rpc.make("Adjust", {
  payload: AdjustFields,
  success: Balance,
  error: InsufficientCredits,
  primaryKey: ({ adjustmentId }) => adjustmentId
}).annotate(ClusterSchema.Persisted, true)

/**
 * A wake-up: handle this user's unhandled updates in `telegram_inbox`, oldest first. Sent
 * by the intake after it stored them and by the inbox sweep. Volatile and empty: the
 * updates themselves are only ever read from the inbox, so a lost wake costs a sweep's
 * delay, a repeated one finds nothing to do, and a forged one carries nothing to forge.
 */
export const HandleInbox = Rpc.make("HandleInbox")

/**
 * Sent to the inviter's entity when the user they invited qualifies (first purchase or first
 * delivered video). Keyed by the invited user: one decision per invitation, ever, and the
 * ledger's op key (`referral:<invitee>`) repeats it. Sent only once the invitation is
 * qualified: its stored answer ("not-found" included) is final for that key.
 */
export const ReferralBonus = Rpc.make("ReferralBonus", {
  payload: { inviteeId: UserId },
  success: Schema.Literal("granted", "capped", "disabled", "not-found"),
  primaryKey: ({ inviteeId }) => `referral:${inviteeId}`
}).annotate(ClusterSchema.Persisted, true)

/** What an admin's /forget erased; a second /forget finds nothing left and says so. */
export class ForgetReport extends Schema.Class<ForgetReport>("ForgetReport")({
  /** Name, username or language were there to erase. */
  profile: Schema.Boolean,
  settings: Schema.Boolean,
  /** Finished jobs whose caption and photo were erased. */
  jobs: Schema.NonNegativeInt,
  /** Jobs still running, which keep their photo and caption until they end. */
  unfinishedJobs: Schema.NonNegativeInt,
  supportRecords: Schema.NonNegativeInt,
  setAsideUpdates: Schema.NonNegativeInt,
  /** Processed updates in the cluster's message table. */
  updates: Schema.NonNegativeInt
}) {}

/**
 * Erases what the privacy text promises to erase; the ledger, the balance and the payments
 * stay, as the law requires. Run by the user's own entity so that none of their updates is
 * handled halfway through it; keyed by the admin's request.
 */
export const Forget = Rpc.make("Forget", {
  payload: { requestKey: RequestKey },
  success: ForgetReport,
  primaryKey: ({ requestKey }) => requestKey
}).annotate(ClusterSchema.Persisted, true)

export const UserEntity = Entity.make("User", [
  Register,
  GetBalance,
  StartJob,
  Capture,
  Refund,
  Grant,
  Adjust,
  HandleInbox,
  RevokePayment,
  ReferralBonus,
  Forget
])

export type StartJobInput = Schema.Struct.Type<typeof StartJobFields>
export type AdjustInput = Schema.Struct.Type<typeof AdjustFields>

/** Where the update being handled stands, for an admission that marks it handled in its own commit. */
export interface AdmitOptions {
  /** Refuses (with `Option.none`) when the user already has this many unfinished jobs. */
  readonly maxInFlight: number
  readonly updateId: number
}

/**
 * The entity's own logic, for the bot's handlers that run inside this entity. They must
 * call these, never the entity's client: a message to itself would queue behind the update
 * being handled and wait forever.
 */
export interface UserOps {
  readonly userId: UserId
  /**
   * First contact of this activation: nothing is written until the first write (or the
   * update's end). `invitedBy`: the inviter of a `start` link, linked only if this is the
   * user's first contact ever (written at once, with the link).
   */
  readonly register: (requestKey: string, profile: typeof UserProfile.Type, invitedBy?: UserId) => Effect.Effect<Registered>
  /** Free tokens granted by a registration and not yet announced (then zero). */
  readonly takeFreshGrant: Effect.Effect<number>
  readonly balance: Effect.Effect<Balance>
  readonly startJob: (payload: StartJobInput) => Effect.Effect<JobStarted, InsufficientCredits>
  /** `startJob` with the room check, in one commit; none when the user has no room. */
  readonly admit: (payload: StartJobInput, options: AdmitOptions) => Effect.Effect<Option.Option<JobStarted>, InsufficientCredits>
  readonly adjust: (payload: AdjustInput) => Effect.Effect<Balance, InsufficientCredits>
  /** Grant for a Stars payment, once per payment id. */
  readonly grant: (paymentId: string, credits: number) => Effect.Effect<Balance>
  /** RevokePayment's logic: the payment's credits back, if unspent. */
  readonly revokePayment: (requestKey: string, paymentId: string) => Effect.Effect<Balance, RevokeError>
  /** A promo code's credits (free kind), at most once per user and code; `requestKey` makes a replay succeed again. */
  readonly redeemPromo: (code: PromoCode, requestKey: string) => Effect.Effect<PromoRedeemed, PromoRefused>
  /** Forget's logic, for an admin who forgets themselves. */
  readonly forget: Effect.Effect<ForgetReport>
  /** The user's /settings choice; none: the defaults. */
  readonly settings: Effect.Effect<Option.Option<ChosenSettings>, SqlError>
  readonly saveSettings: (chosen: ChosenSettings) => Effect.Effect<void, SqlError>
  /** When the user's support request was opened, if one is open (it lapses: src/telegram/features/support.ts). */
  readonly supportOpenedAt: Effect.Effect<Option.Option<number>, SqlError>
  readonly openSupport: (nowMs: number) => Effect.Effect<void, SqlError>
  readonly closeSupport: Effect.Effect<void, SqlError>
}

export interface PromoRedeemed {
  readonly credits: number
  readonly balance: Balance
}

/** What the entity tells its user on its own (not as the answer to an update). */
export type UserNotice = { readonly _tag: "ReferralBonus"; readonly credits: number; readonly balance: Balance }

/**
 * Runs the bot's handlers for one update of the user whose entity calls it (one grammY bot
 * for the whole process). Provided by the Telegram front (src/telegram/bot.ts); a runner
 * without it logs and drops updates.
 */
export class UserUpdates extends Context.Tag("app/UserUpdates")<UserUpdates, {
  readonly handle: (ops: UserOps, update: TelegramUpdate) => Effect.Effect<void>
  readonly notify: (userId: UserId, notice: UserNotice) => Effect.Effect<void>
}>() {}
