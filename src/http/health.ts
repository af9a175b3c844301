/**
 * `/healthz`: the process answers. `/readyz`: this runner can do work now, i.e. the
 * database answers and the runner owns shards; a load balancer sends traffic only then.
 * It also reports the KIE circuit breaker and whether the rate limits are shared (Redis) or
 * this runner's own while Redis fails, and answers 503 while the runner drains after SIGTERM.
 */
import { Sharding } from "@effect/cluster"
import { HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { Drain } from "../cluster/drain.js"
import { holdsShards, ownedShardCount } from "../cluster/runner.js"
import { KieCircuitBreaker } from "../kie/circuit-breaker.js"
import { type LimitsStatus, RateLimits } from "../rate-limits/rate-limits.js"
import { AppRouter } from "./router.js"

const describeLimits = (status: LimitsStatus) =>
  status._tag === "InProcess"
    ? { store: "in-process" }
    : status._tag === "Shared"
    ? { store: "redis" }
    : { store: "local", since: new Date(status.since).toISOString(), runners: status.runners, reason: status.reason }

export const HealthRoutes = AppRouter.use((router) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const limits = yield* RateLimits
    const sharding = yield* Sharding.Sharding
    const breaker = yield* KieCircuitBreaker
    // After SIGTERM the runner answers 503 for DRAIN_GRACE before it stops (src/cluster/drain.ts).
    const drain = yield* Effect.serviceOption(Drain)

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
        const shardCount = yield* ownedShardCount.pipe(Effect.provideService(Sharding.Sharding, sharding))
        const shuttingDown = yield* sharding.isShutdown
        const drainingSince = Option.flatMap(drain, (d) => d.since())
        const draining = Option.isSome(drainingSince)
        const ready = database === "ok" && shards && !shuttingDown && !draining
        // A paused KIE does not make the runner unready: it still takes updates, and jobs
        // wait in the queue with the user's credit safe. It is shown for operators.
        const kie = yield* breaker.state
        // Nor does a Redis outage: the runner limits itself locally meanwhile.
        const rateLimits = describeLimits(yield* limits.status)
        return yield* HttpServerResponse.json(
          {
            ready,
            database,
            holdsShards: shards,
            shards: shardCount,
            shuttingDown,
            draining,
            kie: kie._tag === "Closed" ? { state: "closed" } : { state: "open", reason: kie.reason, since: kie.since },
            rateLimits
          },
          { status: ready ? 200 : 503 }
        )
      })
    )
  })
).pipe(Layer.provide(RateLimits.Default))
