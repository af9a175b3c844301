/**
 * What the operators' dashboard shows: the business figures of a window of UTC days (from
 * the analytics views), and the live state of the cluster and this runner (runners and
 * their shards, the KIE breaker and why, unfinished jobs by state, the rate limits).
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Option } from "effect"
import { SHARDS_PER_GROUP } from "../cluster/runner.js"
import { AppConfig } from "../config/index.js"
import { KieCircuitBreaker } from "../kie/circuit-breaker.js"
import type { BudgetUsage } from "../rate-limits/budget-usage.js"
import { RateLimits } from "../rate-limits/rate-limits.js"
import { runnerSessionName } from "../storage/pg-pool.js"

/** The windows an operator can pick, in days; the first page shows the default. */
export const windowChoices = [1, 7, 14, 30, 90] as const
export const defaultWindow = 14

export interface DayFigures {
  readonly day: string
  readonly delivered: number
  readonly refunded: number
  readonly failed: number
  readonly inProgress: number
  readonly netStars: number
  readonly generationP50Ms: number | null
  readonly generationP95Ms: number | null
}

export interface RunnerRow {
  readonly address: string
  readonly self: boolean
  /** The cluster's health check; null where the cluster keeps no runner table row (embedded mode). */
  readonly healthy: boolean | null
  readonly heartbeatAgeSeconds: number | null
  readonly shards: number
}

export interface LiveState {
  readonly runners: ReadonlyArray<RunnerRow>
  readonly shards: number
  readonly kie:
    | { readonly state: "closed" }
    | { readonly state: "open"; readonly since: string; readonly reason: string; readonly message: string; readonly failedProbes: number }
  readonly jobsByState: ReadonlyArray<{ readonly state: string; readonly jobs: number; readonly oldestAgeSeconds: number | null }>
  readonly limits: {
    readonly store: "in-process" | "redis" | "local"
    readonly since?: string
    readonly runners?: number
    readonly reason?: string
    readonly budgets: ReadonlyArray<BudgetUsage>
  }
}

export interface DashboardData {
  readonly generatedAt: string
  readonly windowDays: number
  readonly inFlight: number
  readonly days: ReadonlyArray<DayFigures>
  readonly failures: ReadonlyArray<{ readonly errorClass: string; readonly jobs: number }>
  readonly live: LiveState
}

const utcDay = (millis: number) => new Date(millis).toISOString().slice(0, 10)

const toMillis = (value: unknown): number | null => {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return value.getTime()
  if (typeof value === "number") return value
  // SQLite's CURRENT_TIMESTAMP is UTC without a zone.
  const text = String(value)
  const parsed = Date.parse(/[zZ+]|T.*-/.test(text) ? text : `${text.replace(" ", "T")}Z`)
  return Number.isNaN(parsed) ? null : parsed
}

/** The runners from the cluster's tables, and who holds how many shards. */
const runners = (self: string, now: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ address: string; healthy: unknown; last_heartbeat: unknown }>`
      SELECT address, healthy, last_heartbeat FROM cluster_runners`.pipe(Effect.orElseSucceed(() => []))
    // Postgres: a shard is an advisory lock held by its runner's session, which names the
    // runner (src/storage/database.ts); SQLite: a row of cluster_locks.
    const holders = yield* sql.onDialectOrElse({
      pg: () =>
        sql<{ holder: string; shards: number }>`
          SELECT a.application_name AS holder, CAST(COUNT(*) AS INTEGER) AS shards
          FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          GROUP BY a.application_name`,
      orElse: () => sql<{ holder: string; shards: number }>`
          SELECT address AS holder, CAST(COUNT(*) AS INTEGER) AS shards FROM cluster_locks GROUP BY address`
    }).pipe(Effect.orElseSucceed(() => []))
    const shardsOf = new Map(holders.map((h) => [h.holder.replace(runnerSessionName(""), ""), Number(h.shards)]))
    const listed = rows.map((row): RunnerRow => {
      const heartbeat = toMillis(row.last_heartbeat)
      return {
        address: row.address,
        self: row.address === self,
        healthy: row.healthy === null ? null : row.healthy === true || Number(row.healthy) === 1,
        heartbeatAgeSeconds: heartbeat === null ? null : Math.max(0, Math.round((now - heartbeat) / 1000)),
        shards: shardsOf.get(row.address) ?? 0
      }
    })
    const unlisted = [...shardsOf.entries()]
      .filter(([address]) => !listed.some((row) => row.address === address) && address.includes(":"))
      .map(([address, shards]): RunnerRow => ({ address, self: address === self, healthy: null, heartbeatAgeSeconds: null, shards }))
    const all = [...listed, ...unlisted]
    if (!all.some((row) => row.self)) all.push({ address: self, self: true, healthy: null, heartbeatAgeSeconds: null, shards: shardsOf.get(self) ?? 0 })
    return all.sort((a, b) => a.address.localeCompare(b.address))
  })

export const liveState = Effect.gen(function*() {
  const config = yield* AppConfig
  const sql = yield* SqlClient.SqlClient
  const breaker = yield* KieCircuitBreaker
  const limits = yield* RateLimits
  const now = yield* Clock.currentTimeMillis
  const self = `${config.runnerHost}:${config.runnerPort}`
  const jobs = yield* sql<{ state: string; jobs: number; oldest_ms: number | string | null }>`
    SELECT state, CAST(COUNT(*) AS INTEGER) AS jobs, MIN(created_at_ms) AS oldest_ms FROM jobs
    WHERE state NOT IN ('delivered', 'refunded', 'failed') GROUP BY state ORDER BY state`
  const kie = yield* breaker.state
  const status = yield* limits.status
  return {
    runners: yield* runners(self, now),
    shards: SHARDS_PER_GROUP,
    kie: kie._tag === "Closed"
      ? { state: "closed" as const }
      : {
        state: "open" as const,
        since: new Date(kie.since).toISOString(),
        reason: kie.reason,
        message: kie.message,
        failedProbes: kie.failedProbes
      },
    jobsByState: jobs.map((row) => ({
      state: row.state,
      jobs: Number(row.jobs),
      oldestAgeSeconds: row.oldest_ms === null ? null : Math.max(0, Math.round((now - Number(row.oldest_ms)) / 1000))
    })),
    limits: {
      ...(status._tag === "InProcess"
        ? { store: "in-process" as const }
        : status._tag === "Shared"
        ? { store: "redis" as const }
        : { store: "local" as const, since: new Date(status.since).toISOString(), runners: status.runners, reason: status.reason }),
      budgets: yield* limits.usage
    }
  } satisfies LiveState
})

/** The figures of the last `windowDays` UTC days (today included), every day present. */
export const dashboardData = (windowDays: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const days = Array.from({ length: windowDays }, (_, i) => utcDay(now - (windowDays - 1 - i) * 86_400_000))
    const [first, last] = [days[0]!, days.at(-1)!]
    const jobs = yield* sql<{ day: string; delivered: number; refunded: number; failed: number; in_progress: number }>`
      SELECT day, delivered, refunded, failed, in_progress FROM analytics_daily_jobs WHERE day >= ${first} AND day <= ${last}`
    const revenue = yield* sql<{ day: string; net_stars: number }>`
      SELECT day, net_stars FROM analytics_revenue_daily WHERE day >= ${first} AND day <= ${last}`
    const latency = yield* sql<{ day: string; generation_p50_ms: number | null; generation_p95_ms: number | null }>`
      SELECT day, generation_p50_ms, generation_p95_ms FROM analytics_latency_daily WHERE day >= ${first} AND day <= ${last}`
    const failures = yield* sql<{ error_class: string | null; jobs: number }>`
      SELECT error_class, CAST(SUM(jobs) AS INTEGER) AS jobs FROM analytics_failures WHERE day >= ${first} AND day <= ${last}
      GROUP BY error_class ORDER BY 2 DESC, 1`
    const [inFlight] = yield* sql<{ n: number }>`
      SELECT CAST(COUNT(*) AS INTEGER) AS n FROM jobs WHERE state NOT IN ('delivered', 'refunded', 'failed')`
    const byDay = <R extends { day: string }>(rows: ReadonlyArray<R>) => new Map(rows.map((row) => [row.day, row]))
    const [jobsOf, revenueOf, latencyOf] = [byDay(jobs), byDay(revenue), byDay(latency)]
    const number = (value: unknown) => Number(value ?? 0)
    return {
      generatedAt: new Date(now).toISOString(),
      windowDays,
      inFlight: number(inFlight?.n),
      days: days.map((day): DayFigures => ({
        day,
        delivered: number(jobsOf.get(day)?.delivered),
        refunded: number(jobsOf.get(day)?.refunded),
        failed: number(jobsOf.get(day)?.failed),
        inProgress: number(jobsOf.get(day)?.in_progress),
        netStars: number(revenueOf.get(day)?.net_stars),
        generationP50Ms: Option.getOrNull(Option.fromNullable(latencyOf.get(day)?.generation_p50_ms).pipe(Option.map(Number))),
        generationP95Ms: Option.getOrNull(Option.fromNullable(latencyOf.get(day)?.generation_p95_ms).pipe(Option.map(Number)))
      })),
      failures: failures.map((row) => ({ errorClass: row.error_class ?? "unknown", jobs: number(row.jobs) })),
      live: yield* liveState
    } satisfies DashboardData
  }).pipe(Effect.withSpan("Dashboard.data"))
