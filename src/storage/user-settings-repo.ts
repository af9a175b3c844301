/** The `user_settings` table: the model and duration each user chose with /settings. */
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import type { UserId } from "../domain/ids.js"
import { column, SqlNumber } from "./sql-schemas.js"

/** One `user_settings` row, without its key; read with the rest of the user (src/storage/admission.ts). */
export class UserSettings extends Schema.Class<UserSettings>("UserSettings")({
  /** The model's slug (src/kie/models.ts); a slug the catalog no longer has falls back to the default. */
  model: Schema.String,
  durationSeconds: column("duration_seconds", SqlNumber)
}) {}

export class UserSettingsRepo extends Effect.Service<UserSettingsRepo>()("app/UserSettingsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const save = Effect.fn("UserSettingsRepo.save")(function*(userId: UserId, settings: UserSettings) {
      yield* sql`
        INSERT INTO user_settings (user_id, model, duration_seconds)
        VALUES (${userId}, ${settings.model}, ${settings.durationSeconds})
        ON CONFLICT (user_id) DO UPDATE SET model = excluded.model, duration_seconds = excluded.duration_seconds,
          updated_at = CURRENT_TIMESTAMP`
    })

    /** /forget: the user's choice goes; returns whether there was one. */
    const forget = Effect.fn("UserSettingsRepo.forget")(function*(userId: UserId) {
      const rows = yield* sql`DELETE FROM user_settings WHERE user_id = ${userId} RETURNING user_id`
      return rows.length > 0
    })

    return { save, forget } as const
  })
}) {}
