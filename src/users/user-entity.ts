/**
 * The UserEntity's behaviour (protocol in src/protocols/user-protocol.ts): it writes a
 * user's balance, except for the lone photos the poller admits itself
 * (src/telegram/intake/lone-photos.ts). The ledger's unique keys repeat the messages' replay
 * keys in the database, so a replay that bypasses the message storage changes nothing either.
 *
 * The build does no I/O: the cluster's storage-read loop builds a new entity inline, so a
 * query here would hold up delivery to every entity of the runner. The user's state is
 * read by the messages that decide from it, with a wake's updates in the same query. A
 * first contact writes nothing by itself: its profile and free grant go into the next write
 * (an admission, in the same commit) or are written when the update's handling ends.
 */
import { Entity } from "@effect/cluster"
import { Effect, Option } from "effect"
import { type JobId, UserId } from "../domain/ids.js"
import type { UserProfile } from "../domain/user-profile.js"
import {
  CreditsAlreadySpent,
  InsufficientCredits,
  JobAlreadySettled,
  PaymentNotFound,
  ReservationNotFound
} from "../errors/index.js"
import {
  type AdjustInput,
  UserEntity,
  type UserOps,
  UserUpdates
} from "../protocols/user-protocol.js"
import { CreditLedger } from "../storage/credit-ledger.js"
import { storedNow } from "../storage/job-repo.js"
import { TelegramInbox } from "../storage/telegram-inbox.js"
import { makeForgetUser } from "./forget-user.js"
import { makeGrowthOps } from "./growth-ops.js"
import { makeAdmission } from "./user-admission.js"
import { makeUserState } from "./user-state.js"

/** Inbox rows one read takes; a wake handles them all, one read after another. */
const inboxBatch = 20

export const UserEntityLive = UserEntity.toLayer(
  Effect.gen(function*() {
    const address = yield* Entity.CurrentAddress
    const userId = UserId.make(Number(address.entityId))
    const ledger = yield* CreditLedger
    const inbox = yield* TelegramInbox
    const forgetUser = yield* makeForgetUser

    const {
      currentBalance,
      flushRegistration,
      loaded,
      readWithPendingUpdates,
      registerDeferred,
      reload,
      settingsAndSupport,
      takeFreshGrant,
      transactional
    } = yield* makeUserState(userId)

    const applyEntry = (entry: Parameters<typeof ledger.apply>[0]) =>
      Effect.gen(function*() {
        yield* flushRegistration
        const result = yield* ledger.apply(entry)
        ;(yield* loaded).balance = result.balance
        return result
      })
    const growth = yield* makeGrowthOps({
      userId,
      applyEntry,
      transactional,
      balance: Effect.orDie(currentBalance),
      registered: flushRegistration
    })

    // An invited first contact is written at once, with its link: the link must not wait
    // for a write that may never come, and a crash must not leave it registered but unlinked.
    // Every update calls this: without an invitation it stays in memory (no transaction).
    const register = (requestKey: string, profile: UserProfile, invitedBy?: UserId) =>
      Effect.gen(function*() {
        const registered = yield* registerDeferred(requestKey, profile)
        if (!registered.newlyGranted || invitedBy === undefined) return registered
        yield* flushRegistration.pipe(Effect.zipRight(growth.linkInviter(invitedBy)), transactional)
        return registered
      }).pipe(Effect.orDie)

    const settle = (jobId: JobId, kind: "capture" | "refund", reason: string) =>
      Effect.gen(function*() {
        const reservation = yield* ledger.reservationOf(jobId)
        if (Option.isNone(reservation) || reservation.value.userId !== userId) {
          return yield* new ReservationNotFound({ jobId })
        }
        const settled = yield* ledger.settlementOf(jobId)
        if (Option.isSome(settled)) {
          if (settled.value !== kind) return yield* new JobAlreadySettled({ jobId, settledAs: settled.value })
          return yield* currentBalance
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

    /** Updates marked handled by their admission's commit, so not marked again. */
    const markedUpdates = new Set<number>()
    const { admit, startJob } = yield* makeAdmission({ userId, loaded, markedUpdates })

    const adjust = Effect.fnUntraced(function*(payload: AdjustInput) {
      const current = yield* currentBalance
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
    }, transactional, Effect.catchTag("SqlError", Effect.die))

    const grant = Effect.fnUntraced(function*(paymentId: string, credits: number) {
      const previous = yield* ledger.paymentGrantOf(paymentId)
      // A replay qualifies again: the message to the inviter may be what the crash lost.
      if (Option.isSome(previous)) return yield* Effect.as(growth.qualify("purchase"), yield* currentBalance)
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
    }, transactional, Effect.orDie)

    const revokePayment = Effect.fnUntraced(function*(_requestKey: string, paymentId: string) {
      const granted = yield* ledger.paymentGrantOf(paymentId)
      if (Option.isNone(granted) || granted.value.userId !== userId) return yield* new PaymentNotFound({ paymentId })
      if (Option.isSome(yield* ledger.paymentRefundOf(paymentId))) return yield* currentBalance
      const current = yield* currentBalance
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

    // What /forget erased is loaded again by the next message.
    const forget = forgetUser(userId).pipe(Effect.tap(reload))
    const ops: UserOps = {
      userId,
      register,
      takeFreshGrant,
      balance: Effect.orDie(currentBalance),
      startJob,
      admit,
      adjust,
      grant,
      revokePayment,
      redeemPromo: growth.redeemPromo,
      forget,
      ...settingsAndSupport
    }
    const updates = yield* Effect.serviceOption(UserUpdates)

    // The poller admits a user's lone photo without this entity (src/telegram/intake/lone-photos.ts),
    // so a copy of the user kept from an earlier message may be stale: a message that decides
    // from the balance reads the user again first. Captures, refunds and grants need not: they
    // move the balance by a delta and keep what the database returns.
    const fresh = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.zipRight(reload, effect)

    // Each pending update in order, the user read with each batch of them; a handling that
    // died (an outage) leaves its row for the next wake, and an update set aside counts as handled.
    const handleInbox = Effect.gen(function*() {
      if (Option.isNone(updates)) return yield* Effect.logError("a wake reached a runner without the Telegram bot; ignored")
      while (true) {
        const pending = yield* readWithPendingUpdates(inboxBatch)
        for (const row of pending) {
          yield* updates.value.handle(ops, JSON.parse(row.payload))
          yield* flushRegistration
          if (!markedUpdates.delete(row.updateId)) yield* inbox.markHandled(row.updateId, yield* storedNow)
        }
        if (pending.length < inboxBatch) return
      }
    }).pipe(Effect.orDie)

    return UserEntity.of({
      // Read again before the transaction: a rollback puts back the copy it started from.
      Register: ({ payload }) =>
        fresh(registerDeferred(payload.requestKey, payload.profile).pipe(Effect.zipLeft(flushRegistration), transactional, Effect.orDie)),

      GetBalance: () => fresh(ops.balance),

      StartJob: ({ payload }) => fresh(startJob(payload)),

      Capture: ({ payload }) =>
        settle(payload.jobId, "capture", "").pipe(
          transactional,
          Effect.catchTag("SqlError", Effect.die),
          Effect.tap(() => growth.qualify("delivered"))
        ),

      Refund: ({ payload }) =>
        settle(payload.jobId, "refund", payload.reason).pipe(transactional, Effect.catchTag("SqlError", Effect.die)),

      Grant: ({ payload }) => grant(payload.paymentId, payload.credits),

      RevokePayment: ({ payload }) => fresh(revokePayment(payload.requestKey, payload.paymentId)),

      ReferralBonus: ({ payload }) => growth.receiveBonus(payload.inviteeId),

      Adjust: ({ payload }) => fresh(adjust(payload)),

      Forget: () => forget,

      HandleInbox: () => handleInbox
    })
  }).pipe(Effect.orDie),
  // Short: under a burst every photo's user has an entity, and those still alive are most of
  // the runner's live heap (BENCHMARKS.md); the next message loads the state again in one query.
  { maxIdleTime: "2 seconds" }
)
