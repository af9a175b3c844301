import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Exit, Option } from "effect"
import { Balance, ReservationSplit } from "../../src/domain/balance.js"
import { JobId, jobIdFor, UserId } from "../../src/domain/ids.js"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { Admission } from "../../src/storage/admission.js"
import { CreditLedger } from "../../src/storage/credit-ledger.js"
import { type Dialect, freshSettings } from "../support/database.js"
import { LedgerOnlyActors, runnerLayer, seededRandom } from "../support/runner.js"

const photo = { fileId: "AgACAgIAAx-photo" }
const job = (requestKey: string, cost = 1) => ({ requestKey, chatId: 1, photo, prompt: "make it move", model: "kling-2.6/image-to-video", durationSeconds: 5, cost })
const profile = { firstName: "Ann", languageCode: "en" }
const balance = (credits: number, freeTokens: number) => new Balance({ credits, freeTokens })

export const userEntitySuite = (dialect: Dialect) => describe(`UserEntity on ${dialect}`, () => {
  const withRunner = <A, E, R>(body: Effect.Effect<A, E, R>, env: Record<string, string> = {}) =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect, { FREE_TOKENS: "2", ...env })
      return yield* body.pipe(Effect.provide(runnerLayer(settings, LedgerOnlyActors)))
    }).pipe(Effect.scoped)

  it.live("Register grants the free tokens once per user, ever", () =>
    withRunner(Effect.gen(function*() {
      const user = (yield* UserEntity.client)("101")
      const first = yield* user.Register({ requestKey: "u1", profile })
      assert.deepStrictEqual(first.balance, balance(0, 2))
      assert.isTrue(first.newlyGranted)
      const replay = yield* user.Register({ requestKey: "u1", profile })
      assert.deepStrictEqual(replay, first)
      const later = yield* user.Register({ requestKey: "u2", profile })
      assert.isFalse(later.newlyGranted)
      assert.deepStrictEqual(later.balance, balance(0, 2))
      assert.deepStrictEqual(yield* user.GetBalance(), balance(0, 2))
    })))

  it.live("StartJob spends free tokens before credits, may use both, and refuses a short balance", () =>
    withRunner(Effect.gen(function*() {
      const user = (yield* UserEntity.client)("102")
      yield* user.Register({ requestKey: "r", profile })
      yield* user.Grant({ paymentId: "charge-1", credits: 3 })
      const first = yield* user.StartJob(job("chat1:msg1"))
      assert.deepStrictEqual(first.balance, balance(3, 1))
      assert.deepStrictEqual([first.split.fromFreeTokens, first.split.fromCredits], [1, 0])
      const mixed = yield* user.StartJob(job("chat1:msg2", 2))
      assert.deepStrictEqual([mixed.split.fromFreeTokens, mixed.split.fromCredits], [1, 1])
      assert.deepStrictEqual(mixed.balance, balance(2, 0))
      const short = yield* Effect.either(user.StartJob(job("chat1:msg3", 3)))
      assert.isTrue(Either.isLeft(short))
      if (Either.isLeft(short) && short.left._tag === "InsufficientCredits") {
        assert.deepStrictEqual([short.left.required, short.left.available, short.left.shortfall], [3, 2, 1])
      }
      const replay = yield* user.StartJob(job("chat1:msg1"))
      assert.deepStrictEqual(replay, first)
      assert.deepStrictEqual(yield* user.GetBalance(), balance(2, 0))
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ state: string; cost: number }>`SELECT state, cost FROM jobs WHERE user_id = 102 ORDER BY cost`
      assert.deepStrictEqual(rows.map((row) => [row.state, Number(row.cost)]), [["queued", 1], ["queued", 2]])
    })))

  it.live("Capture keeps the unit spent, Refund returns exactly the split, and each job settles once", () =>
    withRunner(Effect.gen(function*() {
      const user = (yield* UserEntity.client)("103")
      yield* user.Register({ requestKey: "r", profile })
      yield* user.Grant({ paymentId: "charge-2", credits: 5 })
      const delivered = yield* user.StartJob(job("a", 3))
      const failed = yield* user.StartJob(job("b", 2))
      assert.deepStrictEqual(failed.balance, balance(2, 0))

      const captured = yield* user.Capture({ jobId: delivered.jobId })
      assert.deepStrictEqual(captured, balance(2, 0))
      assert.deepStrictEqual(yield* user.Capture({ jobId: delivered.jobId }), captured)
      // Asked again under a fresh key (the job's reply was lost): the same answer, nothing moves.
      assert.deepStrictEqual(yield* user.Capture({ jobId: delivered.jobId, attempt: 1 }), captured)
      assert.deepStrictEqual(yield* user.GetBalance(), balance(2, 0))
      const refundAfterCapture = yield* Effect.flip(user.Refund({ jobId: delivered.jobId, reason: "late" }))
      assert.strictEqual(refundAfterCapture._tag, "JobAlreadySettled")

      const refunded = yield* user.Refund({ jobId: failed.jobId, reason: "KieUserError" })
      assert.deepStrictEqual(refunded, balance(4, 0))
      assert.deepStrictEqual(yield* user.Refund({ jobId: failed.jobId, reason: "KieUserError" }), refunded)
      const captureAfterRefund = yield* Effect.flip(user.Capture({ jobId: failed.jobId }))
      assert.strictEqual(captureAfterRefund._tag, "JobAlreadySettled")

      const unknown = yield* Effect.flip(user.Refund({ jobId: JobId.make("job_000000000000000000000000"), reason: "x" }))
      assert.strictEqual(unknown._tag, "ReservationNotFound")
      const otherUser = (yield* UserEntity.client)("104")
      const foreign = yield* Effect.flip(otherUser.Capture({ jobId: failed.jobId }))
      assert.strictEqual(foreign._tag, "ReservationNotFound")
      assert.deepStrictEqual(yield* user.GetBalance(), balance(4, 0))
    })))

  it.live("Grant applies once per payment id and Adjust records the operator's change", () =>
    withRunner(Effect.gen(function*() {
      const user = (yield* UserEntity.client)("105")
      assert.deepStrictEqual(yield* user.Grant({ paymentId: "charge-3", credits: 20 }), balance(20, 0))
      assert.deepStrictEqual(yield* user.Grant({ paymentId: "charge-3", credits: 20 }), balance(20, 0))
      assert.deepStrictEqual(yield* user.Grant({ paymentId: "charge-4", credits: 5 }), balance(25, 0))
      assert.deepStrictEqual(
        yield* user.Adjust({ adjustmentId: "adj-1", adminId: 1, delta: -5, note: "duplicate purchase" }),
        balance(20, 0)
      )
      assert.deepStrictEqual(
        yield* user.Adjust({ adjustmentId: "adj-1", adminId: 1, delta: -5, note: "duplicate purchase" }),
        balance(20, 0)
      )
      const tooMuch = yield* Effect.flip(user.Adjust({ adjustmentId: "adj-2", adminId: 1, delta: -21, note: "typo" }))
      assert.strictEqual(tooMuch._tag, "InsufficientCredits")
      if (tooMuch._tag === "InsufficientCredits") assert.deepStrictEqual([tooMuch.required, tooMuch.available, tooMuch.shortfall], [21, 20, 1])
      const sql = yield* SqlClient.SqlClient
      const notes = yield* sql<{ note: string; admin_id: unknown }>`
        SELECT note, admin_id FROM credit_ledger WHERE user_id = 105 AND kind = 'adjust'`
      assert.deepStrictEqual(notes.map((row) => [row.note, Number(row.admin_id)]), [["duplicate purchase", 1]])
    })))

  it.live("a photo the poller admitted beside the live entity is in the entity's next answers and decisions", () =>
    withRunner(Effect.gen(function*() {
      const user = (yield* UserEntity.client)("109")
      yield* user.Register({ requestKey: "r", profile })
      assert.deepStrictEqual(yield* user.Grant({ paymentId: "charge-9", credits: 1 }), balance(1, 2))
      // As src/telegram/intake/lone-photos.ts admits a lone photo: not through the entity.
      const admission = yield* Admission
      const requestKey = "msg:109:1"
      const outcome = yield* admission.admit({
        job: {
          id: jobIdFor(UserId.make(109), requestKey),
          userId: UserId.make(109),
          chatId: 109,
          requestKey,
          model: "kling-2.6/image-to-video",
          prompt: "make it move",
          cost: 2,
          durationSeconds: 5,
          photoFileId: photo.fileId,
          language: "en",
          createdAtMs: 1,
          uploadsReusableSinceMs: 0
        },
        split: new ReservationSplit({ fromFreeTokens: 2, fromCredits: 0 }),
        expected: balance(1, 0),
        maxInFlight: undefined,
        registration: Option.none(),
        updateId: undefined,
        nowMs: 1
      })
      assert.strictEqual(outcome._tag, "Admitted")
      assert.deepStrictEqual(yield* user.GetBalance(), balance(1, 0))
      // Split from the entity's old copy, this would take free tokens that are gone: the CHECK would refuse it.
      const started = yield* user.StartJob(job("after"))
      assert.deepStrictEqual([started.balance, started.split.fromCredits, started.split.fromFreeTokens], [balance(0, 0), 1, 0])
      const refused = yield* Effect.flip(user.Adjust({ adjustmentId: "adj-9", adminId: 1, delta: -1, note: "typo" }))
      assert.strictEqual(refused._tag, "InsufficientCredits")
    })))

  it.live("the database itself refuses a second settlement, payment grant or free grant", () =>
    withRunner(Effect.gen(function*() {
      const user = (yield* UserEntity.client)("106")
      yield* user.Register({ requestKey: "r", profile })
      const started = yield* user.StartJob(job("k"))
      yield* user.Refund({ jobId: started.jobId, reason: "test" })
      yield* user.Grant({ paymentId: "charge-5", credits: 1 })
      const sql = yield* SqlClient.SqlClient
      const insert = (opKey: string, kind: string, jobId: string | null, paymentId: string | null) =>
        Effect.exit(sql`
          INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free, job_id, payment_id)
          VALUES (106, ${opKey}, ${kind}, 0, 1, ${jobId}, ${paymentId})`)
      assert.isTrue(Exit.isFailure(yield* insert("sneaky-capture", "capture", started.jobId, null)))
      assert.isTrue(Exit.isFailure(yield* insert("sneaky-grant", "grant", null, "charge-5")))
      assert.isTrue(Exit.isFailure(yield* insert("sneaky-free", "free_grant", null, null)))
      const ledger = yield* CreditLedger
      const replay = yield* ledger.apply({
        userId: UserId.make(106),
        opKey: `refund:${started.jobId}`,
        kind: "refund",
        jobId: started.jobId,
        deltaCredits: 0,
        deltaFree: 1
      })
      assert.isFalse(replay.applied)
      assert.deepStrictEqual(yield* ledger.balanceOf(UserId.make(106)), balance(1, 2))
    })))

  it.live("100 parallel reservations against a balance of 10 succeed exactly 10 times", () =>
    withRunner(
      Effect.gen(function*() {
        const user = (yield* UserEntity.client)("107")
        yield* user.Grant({ paymentId: "charge-6", credits: 10 })
        const results = yield* Effect.forEach(
          Array.from({ length: 100 }, (_, i) => i),
          (i) => Effect.either(user.StartJob(job(`parallel:${i}`))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter(Either.isRight).length, 10)
        assert.strictEqual(results.filter((r) => Either.isLeft(r) && r.left._tag === "InsufficientCredits").length, 90)
        assert.deepStrictEqual(yield* user.GetBalance(), balance(0, 0))
        const ledger = yield* CreditLedger
        assert.deepStrictEqual(yield* ledger.ledgerSumOf(UserId.make(107)), balance(0, 0))
      }),
      { FREE_TOKENS: "0" }
    ))

  it.live("a seeded random sequence of 1,200 operations over 50 users keeps the books exact", () =>
    withRunner(Effect.gen(function*() {
      const users = yield* UserEntity.client
      const ledger = yield* CreditLedger
      const random = seededRandom(20261125)
      type Model = { credits: number; free: number; jobs: Map<string, { free: number; credits: number; settled?: "capture" | "refund" }> }
      const models = new Map<number, Model>()
      type Op = { readonly userId: number; readonly run: () => Effect.Effect<unknown, unknown>; readonly expect: () => "ok" | "refused" }
      const ops: Array<Op> = []
      const history: Array<Op> = []
      let granted = 0
      for (let i = 0; i < 1200; i++) {
        const userId = 1000 + random.int(0, 49)
        if (!models.has(userId)) models.set(userId, { credits: 0, free: 0, jobs: new Map() })
        const model = models.get(userId)!
        const user = users(String(userId))
        const roll = random.next()
        let op: Op
        if (history.length > 0 && roll < 0.15) {
          // A replay sends an earlier message again: same key, same payload.
          const previous = random.pick(history)
          ops.push({ userId: previous.userId, run: previous.run, expect: previous.expect })
          continue
        } else if (roll < 0.25) {
          const key = `reg:${i}`
          op = {
            userId,
            run: () => user.Register({ requestKey: key, profile }),
            expect: () => {
              if (!model.jobs.has("__registered")) {
                model.jobs.set("__registered", { free: 0, credits: 0 })
                model.free += 2
                granted += 2
              }
              return "ok"
            }
          }
        } else if (roll < 0.4) {
          const credits = random.int(1, 5)
          const paymentId = `pay:${i}`
          op = {
            userId,
            run: () => user.Grant({ paymentId, credits }),
            expect: () => {
              model.credits += credits
              granted += credits
              return "ok"
            }
          }
        } else if (roll < 0.7) {
          const cost = random.int(1, 2)
          const key = `job:${i}`
          op = {
            userId,
            run: () => user.StartJob(job(key, cost)),
            expect: () => {
              if (model.credits + model.free < cost) return "refused"
              const free = Math.min(model.free, cost)
              model.free -= free
              model.credits -= cost - free
              model.jobs.set(key, { free, credits: cost - free })
              return "ok"
            }
          }
        } else if (roll < 0.95) {
          const kind = roll < 0.85 ? "capture" : "refund"
          const open = [...model.jobs.entries()].filter(([key]) => key.startsWith("job:"))
          if (open.length === 0) continue
          const [key, reservation] = random.pick(open)
          const jobId = jobIdFor(UserId.make(userId), key)
          op = {
            userId,
            run: () => kind === "capture" ? user.Capture({ jobId }) : user.Refund({ jobId, reason: "random" }),
            expect: () => {
              if (reservation.settled && reservation.settled !== kind) return "refused"
              if (!reservation.settled && kind === "refund") {
                model.free += reservation.free
                model.credits += reservation.credits
              }
              reservation.settled = kind
              return "ok"
            }
          }
        } else {
          const delta = random.int(-3, 3) || 1
          const adjustmentId = `adj:${i}`
          op = {
            userId,
            run: () => user.Adjust({ adjustmentId, adminId: 1, delta, note: "random" }),
            expect: () => {
              if (model.credits + delta < 0) return "refused"
              model.credits += delta
              granted += delta
              return "ok"
            }
          }
        }
        ops.push(op)
        history.push(op)
      }

      // Each user's operations run in order; different users run concurrently.
      const byUser = new Map<number, Array<Op>>()
      for (const op of ops) byUser.set(op.userId, [...(byUser.get(op.userId) ?? []), op])
      const mismatches: Array<string> = []
      const answers = new Map<Op["run"], Exit.Exit<unknown, unknown>>()
      yield* Effect.forEach([...byUser.values()], (userOps) =>
        Effect.forEach(userOps, (op) =>
          Effect.gen(function*() {
            const exit = yield* Effect.exit(op.run())
            const previous = answers.get(op.run)
            if (previous !== undefined) {
              if (JSON.stringify(exit) !== JSON.stringify(previous)) {
                mismatches.push(`replay answered differently for user ${op.userId}: ${JSON.stringify([previous, exit])}`)
              }
              return
            }
            answers.set(op.run, exit)
            const expected = op.expect()
            const actual = Exit.isSuccess(exit) ? "ok" : "refused"
            if (expected !== actual) mismatches.push(`user ${op.userId}: expected ${expected}, got ${actual}: ${JSON.stringify(exit)}`)
          })), { concurrency: 10 })
      assert.deepStrictEqual(mismatches, [])

      let totalBalance = 0
      let outstanding = 0
      let captured = 0
      for (const [userId, model] of models) {
        const cached = yield* ledger.balanceOf(UserId.make(userId))
        const summed = yield* ledger.ledgerSumOf(UserId.make(userId))
        assert.deepStrictEqual(cached, summed, `ledger sum = cached balance for user ${userId}`)
        assert.deepStrictEqual(cached, balance(model.credits, model.free), `balance of user ${userId}`)
        assert.deepStrictEqual(yield* users(String(userId)).GetBalance(), cached)
        totalBalance += cached.total
        for (const [key, reservation] of model.jobs) {
          if (!key.startsWith("job:")) continue
          if (reservation.settled === "capture") captured += reservation.free + reservation.credits
          if (reservation.settled === undefined) outstanding += reservation.free + reservation.credits
        }
      }
      // Conservation: every unit granted is in a balance, held by an open job, or spent on a delivery.
      assert.strictEqual(totalBalance + outstanding + captured, granted)
    })), 120_000)

  it.live("a restarted runner finds every balance unchanged and does not grant free tokens twice", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect, { FREE_TOKENS: "2" })
      const before = yield* Effect.gen(function*() {
        const users = yield* UserEntity.client
        yield* users("201").Register({ requestKey: "first", profile })
        yield* users("202").Grant({ paymentId: "charge-7", credits: 7 })
        const started = yield* users("201").StartJob(job("restart:1"))
        return { started, a: yield* users("201").GetBalance(), b: yield* users("202").GetBalance() }
      }).pipe(Effect.provide(runnerLayer(settings, LedgerOnlyActors)))

      yield* Effect.gen(function*() {
        const users = yield* UserEntity.client
        assert.deepStrictEqual(yield* users("201").GetBalance(), before.a)
        assert.deepStrictEqual(yield* users("202").GetBalance(), before.b)
        const again = yield* users("201").Register({ requestKey: "second", profile })
        assert.isFalse(again.newlyGranted)
        assert.deepStrictEqual(again.balance, balance(0, 1))
        assert.deepStrictEqual(yield* users("201").StartJob(job("restart:1")), before.started)
        assert.deepStrictEqual(yield* users("201").Refund({ jobId: before.started.jobId, reason: "restart" }), balance(0, 2))
        const ledger = yield* CreditLedger
        assert.isTrue(Option.isSome(yield* ledger.reservationOf(before.started.jobId)))
      }).pipe(Effect.provide(runnerLayer(settings, LedgerOnlyActors)))
    }).pipe(Effect.scoped))
})
