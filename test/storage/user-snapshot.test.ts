/**
 * What a user's entity loads once per activation is one query on both dialects: the
 * balance, the profile, the /settings choice and an open support request, for a user not yet
 * written too (a first contact's /settings is stored before the user's row), and on an
 * activation's first wake the user's waiting updates as well.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Balance } from "../../src/domain/balance.js"
import { UserId } from "../../src/domain/ids.js"
import { CreditLedger } from "../../src/storage/credit-ledger.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { SupportRepo } from "../../src/storage/support-repo.js"
import { TelegramInbox } from "../../src/storage/telegram-inbox.js"
import { UserSettings, UserSettingsRepo } from "../../src/storage/user-settings-repo.js"
import { UserSnapshots } from "../../src/storage/user-snapshot.js"
import { configLayer, dialects, freshSettings } from "../support/database.js"
import { withStatements } from "../support/statements.js"

/** The repositories these tests write through, on the test's own database. */
const storageOn = (settings: Parameters<typeof configLayer>[0]) =>
  Layer.mergeAll(UserSnapshots.Default, CreditLedger.Default, UserSettingsRepo.Default, SupportRepo.Default, TelegramInbox.Default).pipe(
    Layer.provideMerge(DatabaseLive),
    Layer.provide(configLayer(settings))
  )

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
      }).pipe(Effect.provide(storageOn(settings)))
    }), 60_000)
  it.scoped("with the user's waiting updates, oldest first and at most `limit`, in the same one query", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect)
      yield* Effect.gen(function*() {
        const snapshots = yield* UserSnapshots
        const inbox = yield* TelegramInbox
        yield* (yield* CreditLedger).apply({ userId: ann, opKey: "grant:p2", kind: "grant", paymentId: "p2", deltaCredits: 4, deltaFree: 0 })
        const stored = (updateId: number, userId: UserId) => ({ updateId, userId, payload: `{"update_id":${updateId}}` })
        yield* inbox.store([stored(703, ann), stored(701, ann), stored(702, bob), stored(704, ann), stored(705, ann)], 10)
        yield* inbox.markHandled(704, 20)

        const [loaded, sent] = yield* withStatements(snapshots.withPendingUpdates(ann, 2))
        assert.strictEqual(sent.length, 1, sent.join("\n---\n"))
        assert.deepStrictEqual(loaded.snapshot, yield* snapshots.of(ann))
        assert.deepStrictEqual(loaded.snapshot.balance, new Balance({ credits: 4, freeTokens: 0 }))
        assert.deepStrictEqual(loaded.pending, [
          { updateId: 701, payload: "{\"update_id\":701}" },
          { updateId: 703, payload: "{\"update_id\":703}" }
        ])
        assert.deepStrictEqual((yield* snapshots.withPendingUpdates(ann, 20)).pending.map((row) => row.updateId), [701, 703, 705])

        // No update waiting, and a user not yet written: the snapshot alone.
        yield* Effect.forEach([701, 703, 705], (updateId) => inbox.markHandled(updateId, 30))
        const none = yield* snapshots.withPendingUpdates(ann, 20)
        assert.deepStrictEqual([none.pending, none.snapshot.balance], [[], new Balance({ credits: 4, freeTokens: 0 })])
        const stranger = yield* snapshots.withPendingUpdates(UserId.make(9_100_000_013), 20)
        assert.deepStrictEqual([stranger.pending, stranger.snapshot.known], [[], false])
      }).pipe(Effect.provide(storageOn(settings)))
    }), 60_000)
})
