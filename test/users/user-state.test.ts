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
import { withStatements } from "../support/statements.js"

const ann = UserId.make(9_200_000_001)
const wan = new UserSettings({ model: "wan/2-5-image-to-video", durationSeconds: 10 })
const kling = new UserSettings({ model: "kling-2.6/image-to-video", durationSeconds: 5 })

/** How the next save ends: as usual, committed but its answer lost, or refused before any write. */
let nextSave: "ok" | "committed-then-failed" | "refused" = "ok"
const lostAnswer = new SqlError({ cause: "connection reset", message: "lost answer" })
const unreliableSaves = Layer.effect(
  UserSettingsRepo,
  Effect.map(UserSettingsRepo, (repo) =>
    UserSettingsRepo.make({
      ...repo,
      save: (userId, settings) =>
        nextSave === "refused"
          ? Effect.fail(lostAnswer)
          : nextSave === "committed-then-failed"
          ? Effect.zipRight(repo.save(userId, settings), Effect.fail(lostAnswer))
          : repo.save(userId, settings)
    }))
).pipe(Layer.provide(UserSettingsRepo.Default))

/** `effect`'s result and how many statements it sent. */
const counted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(withStatements(effect), ([result, sent]) => [result, sent.length] as const)

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
        assert.deepStrictEqual(yield* counted(copy.supportOpenedAt), [Option.some(1_000), 0])
        yield* copy.closeSupport
        assert.deepStrictEqual(yield* copy.supportOpenedAt, Option.none())

        nextSave = "ok"
        yield* copy.saveSettings(kling)
        // A refused write changes nothing: the copy asks and finds the earlier choice.
        nextSave = "refused"
        assert.strictEqual((yield* Effect.either(copy.saveSettings(wan)))._tag, "Left")
        assert.deepStrictEqual(yield* counted(copy.settings), [Option.some(kling), 1])

        // A write that committed and lost its answer: the copy does not guess, it asks, once.
        nextSave = "committed-then-failed"
        assert.strictEqual((yield* Effect.either(copy.saveSettings(wan)))._tag, "Left")
        assert.deepStrictEqual(yield* counted(copy.settings), [Option.some(wan), 1])
        assert.deepStrictEqual(yield* counted(copy.settings), [Option.some(wan), 0])
      }).pipe(
        Effect.ensuring(Effect.sync(() => (nextSave = "ok"))),
        Effect.provide(
          Layer.mergeAll(Admission.Default, UserSnapshots.Default, UsersRepo.Default, SupportRepo.Default, unreliableSaves).pipe(
            Layer.provideMerge(DatabaseLive),
            Layer.provideMerge(configLayer(settings))
          )
        )
      )
    }), 60_000)
})
