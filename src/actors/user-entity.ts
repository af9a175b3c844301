/**
 * UserEntity (id = Telegram user id) owns a user's money: paid credits and free tokens.
 *
 * Every message that changes money is persisted and carries the key that makes a replay
 * harmless (its `primaryKey`); the ledger's unique keys repeat those rules in the database,
 * so a replay that bypasses the message storage changes nothing either. Failures here are
 * final answers for their key: the storage replays them for that key forever (P1).
 */
import { ClusterSchema, Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Option, Ref, Schema } from "effect"
import { createHash } from "node:crypto"
import { Balance, ReservationSplit } from "../domain/balance.js"
import { JobId, RequestKey, UserId } from "../domain/ids.js"
import { UserProfile } from "../domain/user-profile.js"
import {
  CreditsAlreadySpent,
  InsufficientCredits,
  JobAlreadySettled,
  PaymentNotFound,
  ReservationNotFound,
  RevokeError,
  SettlementError
} from "../errors/index.js"
import { AppConfig } from "../config/index.js"
import { recordJobStarted } from "../observability/metrics.js"
import { CreditLedger } from "../storage/credit-ledger.js"
import { JobRepo, storedNow } from "../storage/job-repo.js"
import { UsersRepo } from "../storage/users-repo.js"
import { JobEntity } from "./job-entity.js"

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
 * does not cancel a settlement it asked for. Cancelling it stored an interruption as the
 * reply to its key, which the cluster hands back to whoever sends that key again.
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
 * answer for that request only, so a later request is judged afresh (cluster-notes P1).
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

/** A Telegram update as received; only `update_id` is read here, the bot reads the rest. */
export const TelegramUpdate = Schema.Struct(
  { update_id: Schema.Int },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
export type TelegramUpdate = typeof TelegramUpdate.Type

/**
 * One Telegram update of this user, handed over by the intake (poller or webhook). Keyed by
 * `update_id`, so a redelivered update is stored once and handled once.
 */
export const HandleUpdate = Rpc.make("HandleUpdate", {
  payload: { update: TelegramUpdate },
  primaryKey: ({ update }) => String(update.update_id)
}).annotate(ClusterSchema.Persisted, true)

export const UserEntity = Entity.make("User", [Register, GetBalance, StartJob, Capture, Refund, Grant, Adjust, HandleUpdate, RevokePayment])

export type StartJobInput = Schema.Struct.Type<typeof StartJobFields>
export type AdjustInput = Schema.Struct.Type<typeof AdjustFields>

/**
 * The entity's own logic, for the bot's handlers that run inside this entity. They must
 * call these, never the entity's client: a message to itself would queue behind the update
 * being handled and wait forever.
 */
export interface UserOps {
  readonly userId: UserId
  readonly register: (requestKey: string, profile: typeof UserProfile.Type) => Effect.Effect<Registered>
  readonly balance: Effect.Effect<Balance>
  readonly startJob: (payload: StartJobInput) => Effect.Effect<JobStarted, InsufficientCredits>
  readonly adjust: (payload: AdjustInput) => Effect.Effect<Balance, InsufficientCredits>
  /** Grant for a Stars payment, once per payment id. */
  readonly grant: (paymentId: string, credits: number) => Effect.Effect<Balance>
  /** RevokePayment's logic: the payment's credits back, if unspent. */
  readonly revokePayment: (requestKey: string, paymentId: string) => Effect.Effect<Balance, RevokeError>
}

/**
 * Runs the bot's handlers for one update of the user whose entity calls it. Provided by the
 * Telegram front (src/telegram/bot.ts); a runner without it logs and drops updates.
 */
export class UserUpdates extends Context.Tag("app/UserUpdates")<UserUpdates, {
  readonly make: (ops: UserOps) => Effect.Effect<(update: TelegramUpdate) => Effect.Effect<void>>
}>() {}

/** The job id is a function of the request, so a redelivered request finds its own job. */
export const jobIdFor = (userId: UserId, requestKey: string): JobId =>
  JobId.make(`job_${createHash("sha256").update(`${userId}:${requestKey}`).digest("hex").slice(0, 24)}`)

/** Free tokens are spent before paid credits; one job may use both. */
export const splitCost = (balance: Balance, cost: number): Option.Option<ReservationSplit> => {
  if (balance.total < cost) return Option.none()
  const fromFreeTokens = Math.min(balance.freeTokens, cost)
  return Option.some(new ReservationSplit({ fromFreeTokens, fromCredits: cost - fromFreeTokens }))
}

export const UserEntityLive = UserEntity.toLayer(
  Effect.gen(function*() {
    const address = yield* Entity.CurrentAddress
    const userId = UserId.make(Number(address.entityId))
    const ledger = yield* CreditLedger
    const usersRepo = yield* UsersRepo
    const jobRepo = yield* JobRepo
    const sql = yield* SqlClient.SqlClient
    const { freeTokens } = yield* AppConfig
    const jobs = yield* JobEntity.client

    // The entity is the only writer of this user's balance, so the copy loaded here stays
    // exact; the database's CHECK constraints still refuse a negative balance.
    const balance = yield* Ref.make(yield* ledger.balanceOf(userId))
    const applyEntry = (entry: Parameters<typeof ledger.apply>[0]) =>
      ledger.apply(entry).pipe(Effect.tap((result) => Ref.set(balance, result.balance)))
    // A transaction that rolls back takes its entries' balance out of the copy too: a failed
    // update is handled again in this same activation (src/telegram/update-failures.ts).
    const transactional = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.flatMap(Ref.get(balance), (before) =>
        sql.withTransaction(effect).pipe(Effect.onError(() => Ref.set(balance, before))))

    const settle = (jobId: JobId, kind: "capture" | "refund", reason: string) =>
      Effect.gen(function*() {
        const reservation = yield* ledger.reservationOf(jobId)
        if (Option.isNone(reservation) || reservation.value.userId !== userId) {
          return yield* new ReservationNotFound({ jobId })
        }
        const settled = yield* ledger.settlementOf(jobId)
        if (Option.isSome(settled)) {
          if (settled.value !== kind) return yield* new JobAlreadySettled({ jobId, settledAs: settled.value })
          return yield* Ref.get(balance)
        }
        const { split } = reservation.value
        const result = yield* applyEntry({
          userId,
          opKey: `${kind}:${jobId}`,
          kind,
          jobId,
          deltaCredits: kind === "refund" ? split.fromCredits : 0,
          deltaFree: kind === "refund" ? split.fromFreeTokens : 0,
          note: kind === "refund" ? reason : undefined
        })
        yield* (kind === "capture"
          ? Effect.logInfo("job's reservation captured")
          : Effect.logInfo("job's reservation refunded").pipe(
            Effect.annotateLogs({ reason, credits: split.fromCredits, freeTokens: split.fromFreeTokens })
          ))
        return result.balance
      }).pipe(
        Effect.tapError((error) => Effect.logWarning(`${kind} refused`, error)),
        // The job's own annotations do not cross the message to this entity; its lines carry both ids again.
        Effect.annotateLogs({ jobId, userId })
      )

    const register = Effect.fnUntraced(function*(_requestKey: string, profile: typeof UserProfile.Type) {
      yield* usersRepo.saveProfile(userId, profile)
      const result = yield* applyEntry({
        userId,
        opKey: `free_grant:${userId}`,
        kind: "free_grant",
        deltaCredits: 0,
        deltaFree: freeTokens
      })
      return new Registered({ balance: result.balance, newlyGranted: result.applied })
    }, transactional, Effect.orDie)

    const startJob = Effect.fnUntraced(function*(payload: StartJobInput) {
      const jobId = jobIdFor(userId, payload.requestKey)
      const existing = yield* ledger.reservationOf(jobId)
      const started = Option.isSome(existing)
        ? new JobStarted({ jobId, balance: yield* Ref.get(balance), split: existing.value.split })
        : yield* Effect.gen(function*() {
          const current = yield* Ref.get(balance)
          const split = splitCost(current, payload.cost)
          if (Option.isNone(split)) {
            return yield* new InsufficientCredits({
              required: payload.cost,
              available: current.total,
              shortfall: payload.cost - current.total
            })
          }
          const result = yield* applyEntry({
            userId,
            opKey: `reserve:${jobId}`,
            kind: "reserve",
            jobId,
            deltaCredits: -split.value.fromCredits,
            deltaFree: -split.value.fromFreeTokens
          })
          yield* jobRepo.insertQueued({
            id: jobId,
            userId,
            chatId: payload.chatId,
            requestKey: payload.requestKey,
            model: payload.model,
            prompt: payload.prompt,
            cost: payload.cost,
            durationSeconds: payload.durationSeconds,
            photoFileId: payload.photo.fileId,
            language: payload.languageCode,
            createdAtMs: yield* storedNow
          })
          yield* recordJobStarted
          yield* Effect.logInfo("job reserved").pipe(Effect.annotateLogs({
            cost: payload.cost,
            fromFreeTokens: split.value.fromFreeTokens,
            fromCredits: split.value.fromCredits,
            requestKey: payload.requestKey
          }))
          return new JobStarted({ jobId, balance: result.balance, split: split.value })
        }).pipe(transactional)
      // Sent after the commit; a crash before this line redelivers StartJob, which finds
      // the reservation above and sends Start again (deduplicated by the job id).
      yield* jobs(jobId).Start({ jobId, userId }, { discard: true }).pipe(Effect.orDie)
      return started
    }, Effect.catchTag("SqlError", Effect.die), (effect, payload) =>
      // Also covers the bot handler that calls this directly: every line of the start carries both ids.
      Effect.annotateLogs(effect, { jobId: jobIdFor(userId, payload.requestKey), userId }))

    const adjust = Effect.fnUntraced(function*(payload: AdjustInput) {
      const current = yield* Ref.get(balance)
      if (current.credits + payload.delta < 0) {
        return yield* new InsufficientCredits({
          required: -payload.delta,
          available: current.credits,
          shortfall: -payload.delta - current.credits
        })
      }
      const result = yield* applyEntry({
        userId,
        opKey: `adjust:${payload.adjustmentId}`,
        kind: "adjust",
        adminId: payload.adminId,
        note: payload.note,
        deltaCredits: payload.delta,
        deltaFree: 0
      })
      return result.balance
    }, Effect.catchTag("SqlError", Effect.die))

    const grant = Effect.fnUntraced(function*(paymentId: string, credits: number) {
      const previous = yield* ledger.paymentGrantOf(paymentId)
      if (Option.isSome(previous)) return yield* Ref.get(balance)
      const result = yield* applyEntry({
        userId,
        opKey: `grant:${paymentId}`,
        kind: "grant",
        paymentId,
        deltaCredits: credits,
        deltaFree: 0
      })
      return result.balance
    }, Effect.orDie)

    const revokePayment = Effect.fnUntraced(function*(_requestKey: string, paymentId: string) {
      const granted = yield* ledger.paymentGrantOf(paymentId)
      if (Option.isNone(granted) || granted.value.userId !== userId) return yield* new PaymentNotFound({ paymentId })
      if (Option.isSome(yield* ledger.paymentRefundOf(paymentId))) return yield* Ref.get(balance)
      const current = yield* Ref.get(balance)
      const credits = granted.value.credits
      if (current.credits < credits) {
        return yield* new CreditsAlreadySpent({ paymentId, credits, available: current.credits })
      }
      const result = yield* applyEntry({
        userId,
        opKey: `payment_refund:${paymentId}`,
        kind: "payment_refund",
        paymentId,
        deltaCredits: -credits,
        deltaFree: 0
      })
      return result.balance
    }, transactional, Effect.catchTag("SqlError", Effect.die))

    const ops: UserOps = { userId, register, balance: Ref.get(balance), startJob, adjust, grant, revokePayment }
    const updates = yield* Effect.serviceOption(UserUpdates)
    const handleUpdate = Option.isSome(updates) ? yield* updates.value.make(ops) : undefined

    return UserEntity.of({
      Register: ({ payload }) => register(payload.requestKey, payload.profile),

      GetBalance: () => Ref.get(balance),

      StartJob: ({ payload }) => startJob(payload),

      Capture: ({ payload }) => settle(payload.jobId, "capture", "").pipe(transactional, Effect.catchTag("SqlError", Effect.die)),

      Refund: ({ payload }) =>
        settle(payload.jobId, "refund", payload.reason).pipe(transactional, Effect.catchTag("SqlError", Effect.die)),

      Grant: ({ payload }) => grant(payload.paymentId, payload.credits),

      RevokePayment: ({ payload }) => revokePayment(payload.requestKey, payload.paymentId),

      Adjust: ({ payload }) => adjust(payload),

      HandleUpdate: ({ payload }) =>
        handleUpdate === undefined
          ? Effect.logError("an update reached a runner without the Telegram bot; dropped").pipe(
            Effect.annotateLogs({ updateId: payload.update.update_id })
          )
          : handleUpdate(payload.update)
    })
  }).pipe(Effect.orDie),
  { maxIdleTime: "5 minutes" }
)
