/**
 * `GET /dashboard`: the operators' page (src/observability/dashboard-page.ts), for admins
 * holding DASHBOARD_TOKEN, given as `?token=` or `Authorization: Bearer`. Without a
 * configured token the page does not exist (404); a missing or wrong token gets 401.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { AppConfig } from "../config/index.js"
import { type DashboardData, renderDashboard } from "../observability/dashboard-page.js"
import { AppRouter } from "./router.js"

/** How many of the most recent days with jobs the charts show. */
const DAYS = 14

const digest = (text: string) => createHash("sha256").update(text).digest()
const sameSecret = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected))

export const dashboardData = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const jobs = yield* sql<{ day: string; delivered: number; refunded: number; failed: number; in_progress: number }>`
    SELECT day, delivered, refunded, failed, in_progress FROM analytics_daily_jobs ORDER BY day DESC LIMIT ${DAYS}`
  const days = jobs.map((row) => row.day).reverse()
  const first = days[0] ?? "9999-12-31"
  const revenue = yield* sql<{ day: string; net_stars: number }>`
    SELECT day, net_stars FROM analytics_revenue_daily WHERE day >= ${first}`
  const latency = yield* sql<{ day: string; generation_p50_ms: number | null; generation_p95_ms: number | null }>`
    SELECT day, generation_p50_ms, generation_p95_ms FROM analytics_latency_daily WHERE day >= ${first}`
  const failures = yield* sql<{ error_class: string | null; jobs: number }>`
    SELECT error_class, CAST(SUM(jobs) AS INTEGER) AS jobs FROM analytics_failures WHERE day >= ${first}
    GROUP BY error_class ORDER BY 2 DESC, 1`
  const [inFlight] = yield* sql<{ n: number }>`
    SELECT CAST(COUNT(*) AS INTEGER) AS n FROM jobs WHERE state NOT IN ('delivered', 'refunded', 'failed')`
  const byDay = <R extends { day: string }>(rows: ReadonlyArray<R>) => new Map(rows.map((row) => [row.day, row]))
  const revenueOf = byDay(revenue)
  const latencyOf = byDay(latency)
  const now = yield* Clock.currentTimeMillis
  return {
    generatedAt: new Date(now).toISOString(),
    inFlight: Number(inFlight?.n ?? 0),
    days: [...jobs].reverse().map((row) => ({
      day: row.day,
      delivered: Number(row.delivered),
      refunded: Number(row.refunded),
      failed: Number(row.failed),
      inProgress: Number(row.in_progress),
      netStars: Number(revenueOf.get(row.day)?.net_stars ?? 0),
      generationP50Ms: latencyOf.get(row.day)?.generation_p50_ms ?? null,
      generationP95Ms: latencyOf.get(row.day)?.generation_p95_ms ?? null
    })),
    failures: failures.map((row) => ({ errorClass: row.error_class ?? "unknown", jobs: Number(row.jobs) }))
  } satisfies DashboardData
}).pipe(Effect.withSpan("Dashboard.data"))

export const DashboardRoutes = AppRouter.use((router) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const sql = yield* SqlClient.SqlClient

    yield* router.get(
      "/dashboard",
      Effect.gen(function*() {
        if (Option.isNone(config.dashboardToken)) return HttpServerResponse.text("Not Found", { status: 404 })
        const request = yield* HttpServerRequest.HttpServerRequest
        const url = new URL(request.url, "http://localhost")
        const bearer = /^Bearer\s+(.+)$/i.exec(request.headers["authorization"] ?? "")?.[1]
        const given = url.searchParams.get("token") ?? bearer
        if (given === undefined || !sameSecret(given, Redacted.value(config.dashboardToken.value))) {
          return HttpServerResponse.text("Unauthorized", {
            status: 401,
            headers: { "www-authenticate": "Bearer realm=\"dashboard\"" }
          })
        }
        const data = yield* dashboardData.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.orDie)
        return HttpServerResponse.html(renderDashboard(data)).pipe(
          HttpServerResponse.setHeaders({ "cache-control": "no-store", "referrer-policy": "no-referrer" })
        )
      })
    )
  })
)
