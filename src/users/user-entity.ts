/**
 * The UserEntity's behaviour (protocol in src/protocols/user-protocol.ts): the only writer
 * of a user's balance. The ledger's unique keys repeat the messages' replay keys in the
 * database, so a replay that bypasses the message storage changes nothing either.
 */
import { Entity } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { Effect, Option, Ref } from "effect"
import { type Balance, ReservationSplit } from "../domain/balance.js"
import { jobIdFor, type JobId, UserId } from "../domain/ids.js"
import type { UserProfile } from "../domain/user-profile.js"
import {
  CreditsAlreadySpent,
  InsufficientCredits,
  JobAlreadySettled,
  PaymentNotFound,
  ReservationNotFound
} from "../errors/index.js"
import { AppConfig } from "../config/index.js"
import { recordJobStarted } from "../observability/metrics.js"
import { JobEntity } from "../protocols/job-protocol.js"
import {
  type AdjustInput,
  JobStarted,
  Registered,
  type StartJobInput,
  UserEntity,
  type UserOps,
  UserUpdates
} from "../protocols/user-protocol.js"
import { CreditLedger } from "../storage/credit-ledger.js"
import { JobRepo, storedNow } from "../storage/job-repo.js"
import { UsersRepo } from "../storage/users-repo.js"
import { makeGrowthOps } from "./growth-ops.js"
import { makeForgetUser } from "./forget-user.js"

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
    const forgetUser = yield* makeForgetUser

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
    const growth = yield* makeGrowthOps({ userId, applyEntry, transactional, balance: Ref.get(balance) })

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

    const register = Effect.fnUntraced(function*(_requestKey: string, profile: typeof UserProfile.Type, invitedBy?: UserId) {
      yield* usersRepo.saveProfile(userId, profile)
      const result = yield* applyEntry({
        userId,
        opKey: `free_grant:${userId}`,
        kind: "free_grant",
        deltaCredits: 0,
        deltaFree: freeTokens
      })
      // The free grant is applied once ever, so this is the user's first contact: in the same
      // transaction, so a crash cannot leave a new user registered but not linked.
      if (result.applied && invitedBy !== undefined) yield* growth.linkInviter(invitedBy)
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
      // A replay qualifies again: the message to the inviter may be what the crash lost.
      if (Option.isSome(previous)) return yield* Effect.as(growth.qualify("purchase"), yield* Ref.get(balance))
      const result = yield* applyEntry({
        userId,
        opKey: `grant:${paymentId}`,
        kind: "grant",
        paymentId,
        deltaCredits: credits,
        deltaFree: 0
      })
      yield* growth.qualify("purchase")
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

    const forget = forgetUser(userId)
    const ops: UserOps = {
      userId,
      register,
      balance: Ref.get(balance),
      startJob,
      adjust,
      grant,
      revokePayment,
      redeemPromo: growth.redeemPromo,
      forget
    }
    const updates = yield* Effect.serviceOption(UserUpdates)
    const handleUpdate = Option.isSome(updates) ? yield* updates.value.make(ops) : undefined

    return UserEntity.of({
      Register: ({ payload }) => register(payload.requestKey, payload.profile),

      GetBalance: () => Ref.get(balance),

      StartJob: ({ payload }) => startJob(payload),

      Capture: ({ payload }) =>
        settle(payload.jobId, "capture", "").pipe(
          transactional,
          Effect.catchTag("SqlError", Effect.die),
          Effect.tap(() => growth.qualify("delivered"))
        ),

      Refund: ({ payload }) =>
        settle(payload.jobId, "refund", payload.reason).pipe(transactional, Effect.catchTag("SqlError", Effect.die)),

      Grant: ({ payload }) => grant(payload.paymentId, payload.credits),

      RevokePayment: ({ payload }) => revokePayment(payload.requestKey, payload.paymentId),

      ReferralBonus: ({ payload }) => growth.receiveBonus(payload.inviteeId),

      Adjust: ({ payload }) => adjust(payload),

      Forget: () => forget,

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
