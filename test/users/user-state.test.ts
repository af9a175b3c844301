/**
 * The user entity's copy of the /settings choice and the support request: written through
 * the copy, read without a query, and read again from the database after a write that failed
 * (it may have committed before its answer was lost).
 */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { UserId } from "../../src/domain/ids.js"
import { Admission } from "../../src/storage/admission.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { SupportRepo } from "../../src/storage/support-repo.js"
import { UserSettings, UserSettingsRepo } from "../../src/storage/user-settings-repo.js"
import { UserSnapshots } from "../../src/storage/user-snapshot.js"
import { UsersRepo } from "../../src/storage/users-repo.js"
import { makeUserState } from "../../src/users/user-state.js"
import { configLayer, freshSettings } from "../support/database.js"

const ann = UserId.make(9_200_000_001)
const wan = new UserSettings({ model: "wan/2-5-image-to-video", durationSeconds: 10 })

/** A settings repository whose save commits and then reports a failure, as a lost answer would. */
const savesThenFails = Layer.effect(
  UserSettingsRepo,
  Effect.map(UserSettingsRepo, (repo) =>
    UserSettingsRepo.make({
      ...repo,
      save: (userId, settings) =>
        Effect.zipRight(repo.save(userId, settings), Effect.fail(new SqlError({ cause: "connection reset", message: "lost answer" })))
    }))
).pipe(Layer.provide(UserSettingsRepo.Default))

describe("a user's settings and support request in the entity's copy", () => {
  it.scoped("cost no query once loaded, and are read again after a write that failed", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings("sqlite")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { settingsAndSupport: copy } = yield* makeUserState(ann)
        assert.deepStrictEqual(yield* copy.settings, Option.none())

        yield* copy.openSupport(1_000)
        // Changed behind the entity's back (no code does): the copy is what the entity wrote.
        yield* sql`DELETE FROM support_requests`
        assert.deepStrictEqual(yield* copy.supportOpenedAt, Option.some(1_000))
        yield* copy.closeSupport
        assert.deepStrictEqual(yield* copy.supportOpenedAt, Option.none())

        const failed = yield* Effect.either(copy.saveSettings(wan))
        assert.strictEqual(failed._tag, "Left")
        // The row committed; the copy does not guess, it asks.
        assert.deepStrictEqual(yield* copy.settings, Option.some(wan))
      }).pipe(Effect.provide(
        Layer.mergeAll(Admission.Default, UserSnapshots.Default, UsersRepo.Default, SupportRepo.Default, savesThenFails).pipe(
          Layer.provideMerge(DatabaseLive),
          Layer.provideMerge(configLayer(settings))
        )
      ))
    }), 60_000)
})
