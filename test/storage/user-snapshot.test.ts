/**
 * What a user's entity loads once per activation is one query on both dialects: the
 * balance, the profile, the /settings choice and an open support request, for a user not yet
 * written too (a first contact's /settings is stored before the user's row).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Balance } from "../../src/domain/balance.js"
import { UserId } from "../../src/domain/ids.js"
import { CreditLedger } from "../../src/storage/credit-ledger.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { SupportRepo } from "../../src/storage/support-repo.js"
import { UserSettings, UserSettingsRepo } from "../../src/storage/user-settings-repo.js"
import { UserSnapshots } from "../../src/storage/user-snapshot.js"
import { configLayer, dialects, freshSettings } from "../support/database.js"
import { withStatements } from "../support/statements.js"

const ann = UserId.make(9_100_000_011)
const bob = UserId.make(9_100_000_012)

describe.each(dialects)("user snapshots on %s", (dialect) => {
  it.scoped("balance, profile, settings and support request in one query", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect)
      yield* Effect.gen(function*() {
        const snapshots = yield* UserSnapshots
        const ledger = yield* CreditLedger
        const support = yield* SupportRepo
        yield* ledger.apply({ userId: ann, opKey: "grant:p1", kind: "grant", paymentId: "p1", deltaCredits: 3, deltaFree: 0 })
        yield* (yield* UserSettingsRepo).save(ann, new UserSettings({ model: "wan/2-5-image-to-video", durationSeconds: 10 }))
        yield* support.open(ann, 1_234)

        const [snapshot, sent] = yield* withStatements(snapshots.of(ann))
        assert.strictEqual(sent.length, 1, sent.join("\n---\n"))
        assert.deepStrictEqual(snapshot.balance, new Balance({ credits: 3, freeTokens: 0 }))
        assert.deepStrictEqual(snapshot.settings, Option.some(new UserSettings({ model: "wan/2-5-image-to-video", durationSeconds: 10 })))
        assert.deepStrictEqual(snapshot.supportOpenedAtMs, Option.some(1_234))

        yield* support.open(bob, 99)
        const unknown = yield* snapshots.of(bob)
        assert.deepStrictEqual([unknown.known, unknown.balance, unknown.settings, unknown.supportOpenedAtMs], [
          false,
          Balance.zero,
          Option.none(),
          Option.some(99)
        ])
        yield* support.close(bob)
        assert.deepStrictEqual((yield* snapshots.of(bob)).supportOpenedAtMs, Option.none())
      }).pipe(Effect.provide(
        Layer.mergeAll(UserSnapshots.Default, CreditLedger.Default, UserSettingsRepo.Default, SupportRepo.Default).pipe(
          Layer.provideMerge(DatabaseLive),
          Layer.provide(configLayer(settings))
        )
      ))
    }), 60_000)
})
