import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Balance, ReservationSplit } from "../../src/domain/balance.js"
import { JobId, UserId } from "../../src/domain/ids.js"
import { Payment, PaymentsRepo } from "../../src/payments/payments-repo.js"
import { CreditLedger, LedgerEntry } from "../../src/storage/credit-ledger.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { TelegramOffsets } from "../../src/storage/telegram-offsets.js"
import { UserSettings, UserSettingsRepo } from "../../src/storage/user-settings-repo.js"
import { UserSnapshots } from "../../src/storage/user-snapshot.js"
import { UsersRepo } from "../../src/storage/users-repo.js"
import { configLayer, dialects, freshSettings } from "../support/database.js"

const repositoriesOn = (dialect: "sqlite" | "pg") =>
  Effect.map(freshSettings(dialect), (settings) =>
    Layer.mergeAll(UserSnapshots.Default, CreditLedger.Default, PaymentsRepo.Default, UserSettingsRepo.Default, TelegramOffsets.Default).pipe(
      Layer.provideMerge(UsersRepo.Default),
      Layer.provide(DatabaseLive),
      Layer.provide(configLayer(settings))
    ))

const ann = UserId.make(9_000_000_001)
const jobId = JobId.make("job_0123456789abcdef01234567")

describe.each(dialects)("repositories on %s", (dialect) => {
  it.scoped("decode every row into its one schema, Postgres's BIGINT strings included", () =>
    Effect.gen(function*() {
      const layer = yield* repositoriesOn(dialect)
      yield* Effect.gen(function*() {
        const users = yield* UsersRepo
        const ledger = yield* CreditLedger
        const payments = yield* PaymentsRepo
        assert.isFalse(yield* users.exists(ann))
        yield* users.saveProfile(ann, { firstName: "Ann", languageCode: "ru" })
        yield* users.saveProfile(ann, { username: "ann" })
        assert.isTrue(yield* users.exists(ann))
        assert.strictEqual(yield* users.languageOf(ann), "ru")

        assert.deepStrictEqual(yield* ledger.balanceOf(ann), Balance.zero)
        yield* ledger.apply({ userId: ann, opKey: `free_grant:${ann}`, kind: "free_grant", deltaCredits: 0, deltaFree: 2 })
        const paid = yield* payments.record({ chargeId: "charge-1", userId: ann, stars: 250, credits: 5 })
        assert.deepStrictEqual(
          paid.payment,
          new Payment({ chargeId: "charge-1", userId: ann, packageName: "5:250", stars: 250, credits: 5, state: "received" })
        )
        yield* ledger.apply({ userId: ann, opKey: "grant:charge-1", kind: "grant", paymentId: "charge-1", deltaCredits: 5, deltaFree: 0 })
        const reserved = yield* ledger.apply({
          userId: ann,
          opKey: `reserve:${jobId}`,
          kind: "reserve",
          jobId,
          deltaCredits: -1,
          deltaFree: -2
        })
        assert.deepStrictEqual(reserved.balance, new Balance({ credits: 4, freeTokens: 0 }))
        assert.deepStrictEqual(yield* ledger.ledgerSumOf(ann), reserved.balance)
        assert.deepStrictEqual(
          yield* ledger.reservationOf(jobId),
          Option.some({ userId: ann, split: new ReservationSplit({ fromCredits: 1, fromFreeTokens: 2 }) })
        )
        assert.deepStrictEqual(yield* ledger.settlementOf(jobId), Option.none())
        assert.deepStrictEqual(yield* ledger.paymentGrantOf("charge-1"), Option.some({ userId: ann, credits: 5 }))
        const [grant] = yield* ledger.paidGrantsAfter(0, 10)
        assert.instanceOf(grant, LedgerEntry)
        assert.deepStrictEqual(
          [typeof grant!.id, grant!.userId, grant!.paymentId, grant!.deltaCredits, grant!.jobId],
          ["number", ann, "charge-1", 5, undefined]
        )
        assert.isTrue(yield* payments.markCredited("charge-1"))
        assert.deepStrictEqual(Option.map(yield* payments.find("charge-1"), (payment) => payment.state), Option.some("credited"))

        const settings = yield* UserSettingsRepo
        const snapshots = yield* UserSnapshots
        assert.deepStrictEqual((yield* snapshots.of(ann)).settings, Option.none())
        yield* settings.save(ann, new UserSettings({ model: "wan/2-5-image-to-video", durationSeconds: 10 }))
        assert.deepStrictEqual(
          (yield* snapshots.of(ann)).settings,
          Option.some(new UserSettings({ model: "wan/2-5-image-to-video", durationSeconds: 10 }))
        )

        const offsets = yield* TelegramOffsets
        yield* offsets.save(7, 12)
        yield* offsets.save(7, 11)
        assert.deepStrictEqual(yield* offsets.of(7), Option.some(12))

        // A broadcast reaches neither a user who blocked the bot nor one whose data was deleted.
        const [bea, cid] = [UserId.make(9_000_000_002), UserId.make(9_000_000_003)]
        yield* users.saveProfile(bea, { firstName: "Bea" })
        yield* users.saveProfile(cid, { firstName: "Cid" })
        assert.deepStrictEqual(yield* users.reachable(0, 10), [ann, bea, cid])
        yield* users.markBlocked(bea, true)
        yield* users.forgetProfile(cid)
        assert.deepStrictEqual(yield* users.reachable(0, 10), [ann])
        assert.strictEqual(yield* users.countReachable(), 1)
        yield* users.markBlocked(bea, false)
        assert.deepStrictEqual(yield* users.reachable(ann, 10), [bea])
      }).pipe(Effect.provide(layer))
    }), 60_000)
})
