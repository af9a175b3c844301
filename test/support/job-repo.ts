/** The job repository alone, for the tests of its statements (test/storage/job-*.test.ts). */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { DatabaseLive } from "../../src/storage/database.js"
import { JobRepo } from "../../src/storage/job-repo.js"
import { configLayer, type Dialect, freshSettings } from "./database.js"

/** JobRepo on a fresh, migrated database of `dialect`, with its SqlClient. */
export const jobRepoOn = (dialect: Dialect) =>
  Effect.map(freshSettings(dialect), (settings) =>
    JobRepo.Default.pipe(Layer.provideMerge(DatabaseLive), Layer.provide(configLayer(settings))))

/** Runs `body` with JobRepo and its SqlClient on a fresh, migrated database of `dialect`. */
export const withJobRepo = <A, E>(
  dialect: Dialect,
  body: (sql: SqlClient.SqlClient, repo: JobRepo) => Effect.Effect<A, E, SqlClient.SqlClient | JobRepo>
) =>
  Effect.flatMap(jobRepoOn(dialect), (layer) =>
    Effect.gen(function*() {
      return yield* body(yield* SqlClient.SqlClient, yield* JobRepo)
    }).pipe(Effect.provide(layer)))
