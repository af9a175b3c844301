/**
 * `/healthz`: the process answers. `/readyz`: this runner can do work now, i.e. the
 * database answers and the runner owns shards; a load balancer sends traffic only then.
 */
import { Sharding } from "@effect/cluster"
import { HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { holdsShards } from "../cluster/runner.js"
import { AppRouter } from "./router.js"

export const HealthRoutes = AppRouter.use((router) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const sharding = yield* Sharding.Sharding

    yield* router.get("/healthz", HttpServerResponse.json({ ok: true }))

    yield* router.get(
      "/readyz",
      Effect.gen(function*() {
        const database = yield* sql`SELECT 1 AS ok`.pipe(
          Effect.timeout("2 seconds"),
          Effect.as("ok" as const),
          Effect.orElseSucceed(() => "unreachable" as const)
        )
        const shards = yield* holdsShards.pipe(Effect.provideService(Sharding.Sharding, sharding))
        const shuttingDown = yield* sharding.isShutdown
        const ready = database === "ok" && shards && !shuttingDown
        return yield* HttpServerResponse.json(
          { ready, database, holdsShards: shards, shuttingDown },
          { status: ready ? 200 : 503 }
        )
      })
    )
  })
)
