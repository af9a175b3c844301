/**
 * `GET /metrics`: Prometheus text exposition of Effect's metrics. The metrics the docs name
 * are registered when the route is (src/observability/metric-catalog.ts), so they are there
 * from start-up. The gauges that describe the present (jobs in flight, updates waiting to be
 * handled, shards held) are refreshed at each scrape; the process's own
 * (src/observability/process-metrics.ts) by their library as it is read.
 */
import { Sharding } from "@effect/cluster"
import { HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer, Metric, Option } from "effect"
import { ownedShardCount } from "../cluster/runner.js"
import { declareDocumentedMetrics } from "../observability/metric-catalog.js"
import { jobsInFlight, oldestUnhandledUpdateSeconds, shardsHeld, updatesUnhandled } from "../observability/metrics.js"
import { PrometheusExposition } from "../observability/prometheus.js"
import { TelegramInbox } from "../storage/telegram-inbox.js"
import { AppRouter } from "./router.js"

export const MetricsRoutes = AppRouter.use((router) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const sharding = yield* Sharding.Sharding
    const exposition = yield* PrometheusExposition
    const inbox = yield* TelegramInbox
    yield* declareDocumentedMetrics

    const refreshGauges = Effect.gen(function*() {
      const rows = yield* sql<{ n: number }>`
        SELECT CAST(COUNT(*) AS INTEGER) AS n FROM jobs WHERE state NOT IN ('delivered', 'refunded', 'failed')`
      yield* Metric.set(jobsInFlight, Number(rows[0]?.n ?? 0))
      const backlog = yield* inbox.backlog()
      yield* Metric.set(updatesUnhandled, backlog.waiting)
      const now = yield* Clock.currentTimeMillis
      yield* Metric.set(
        oldestUnhandledUpdateSeconds,
        Option.match(backlog.oldestReceivedAtMs, { onNone: () => 0, onSome: (at) => Math.max(0, now - at) / 1000 })
      )
      yield* Metric.set(shardsHeld, yield* ownedShardCount.pipe(Effect.provideService(Sharding.Sharding, sharding)))
    }).pipe(
      Effect.timeout("2 seconds"),
      // A slow database must not cost operators the rest of the metrics.
      Effect.catchAllCause((cause) => Effect.logWarning("metrics: gauges not refreshed", cause))
    )

    yield* router.get(
      "/metrics",
      Effect.gen(function*() {
        yield* refreshGauges
        const body = yield* exposition.render
        return HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
      })
    )
  })
).pipe(Layer.provide([PrometheusExposition.layer, TelegramInbox.Default]))
