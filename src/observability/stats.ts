/**
 * The figures behind the admins' `/stats`: today (UTC) and the last 7 days including
 * today, read from the analytics views, and the compact text the bot sends. The bot's
 * command handler calls `statsText(language)`.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { type Language, messagesFor } from "../i18n/index.js"

export interface PeriodFigures {
  readonly newUsers: number
  readonly activeUsers: number
  readonly jobs: number
  readonly delivered: number
  readonly refunded: number
  readonly failed: number
  readonly inProgress: number
  readonly payments: number
  readonly stars: number
  readonly creditsSold: number
  readonly kieTasks: number
  /** Users who started through an invitation, and those of them who qualified since. */
  readonly invited: number
  readonly converted: number
  readonly promoRedemptions: number
  /** Failure classes, most frequent first. */
  readonly failures: ReadonlyArray<{ readonly errorClass: string; readonly jobs: number }>
  /** Generation time p50/p95 (ms): the highest daily nearest-rank value in the period. */
  readonly generationP50Ms: number | null
  readonly generationP95Ms: number | null
}

export interface Stats {
  readonly today: string
  readonly since: string
  readonly day: PeriodFigures
  readonly week: PeriodFigures
}

const utcDay = (millis: number) => new Date(millis).toISOString().slice(0, 10)

export class StatsService extends Effect.Service<StatsService>()("app/StatsService", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const period = (from: string, to: string) =>
      Effect.gen(function*() {
        const [jobs] = yield* sql<{ jobs: number | null; delivered: number | null; refunded: number | null; failed: number | null; in_progress: number | null }>`
          SELECT CAST(SUM(jobs) AS INTEGER) AS jobs, CAST(SUM(delivered) AS INTEGER) AS delivered,
            CAST(SUM(refunded) AS INTEGER) AS refunded, CAST(SUM(failed) AS INTEGER) AS failed,
            CAST(SUM(in_progress) AS INTEGER) AS in_progress
          FROM analytics_daily_jobs WHERE day >= ${from} AND day <= ${to}`
        const [revenue] = yield* sql<{ payments: number | null; stars: number | null; credits_sold: number | null }>`
          SELECT CAST(SUM(payments) AS INTEGER) AS payments, CAST(SUM(net_stars) AS INTEGER) AS stars,
            CAST(SUM(credits_sold) AS INTEGER) AS credits_sold
          FROM analytics_revenue_daily WHERE day >= ${from} AND day <= ${to}`
        const [users] = yield* sql<{ new_users: number | null }>`
          SELECT CAST(SUM(registered) AS INTEGER) AS new_users FROM analytics_funnel
          WHERE signup_day >= ${from} AND signup_day <= ${to}`
        // Distinct over the period, so not a sum of the daily view.
        const [active] = yield* sql<{ active_users: number }>`
          SELECT CAST(COUNT(DISTINCT user_id) AS INTEGER) AS active_users FROM jobs
          WHERE ${sql.unsafe(dayOf("created_at"))} >= ${from} AND ${sql.unsafe(dayOf("created_at"))} <= ${to}`
        const [cost] = yield* sql<{ kie_tasks: number | null }>`
          SELECT CAST(SUM(kie_tasks) AS INTEGER) AS kie_tasks FROM analytics_kie_cost WHERE day >= ${from} AND day <= ${to}`
        const failures = yield* sql<{ error_class: string | null; jobs: number }>`
          SELECT error_class, CAST(SUM(jobs) AS INTEGER) AS jobs FROM analytics_failures
          WHERE day >= ${from} AND day <= ${to}
          GROUP BY error_class ORDER BY 2 DESC, 1`
        const [latency] = yield* sql<{ p50: number | null; p95: number | null }>`
          SELECT CAST(MAX(generation_p50_ms) AS INTEGER) AS p50, CAST(MAX(generation_p95_ms) AS INTEGER) AS p95
          FROM analytics_latency_daily WHERE day >= ${from} AND day <= ${to}`
        const [invites] = yield* sql<{ invited: number | null; converted: number | null }>`
          SELECT CAST(SUM(invited) AS INTEGER) AS invited, CAST(SUM(converted) AS INTEGER) AS converted
          FROM analytics_referrals_daily WHERE day >= ${from} AND day <= ${to}`
        const [promos] = yield* sql<{ redemptions: number | null }>`
          SELECT CAST(SUM(redemptions) AS INTEGER) AS redemptions
          FROM analytics_promo_redemptions_daily WHERE day >= ${from} AND day <= ${to}`
        const n = (value: number | null | undefined) => Number(value ?? 0)
        return {
          newUsers: n(users?.new_users),
          activeUsers: n(active?.active_users),
          jobs: n(jobs?.jobs),
          delivered: n(jobs?.delivered),
          refunded: n(jobs?.refunded),
          failed: n(jobs?.failed),
          inProgress: n(jobs?.in_progress),
          payments: n(revenue?.payments),
          stars: n(revenue?.stars),
          creditsSold: n(revenue?.credits_sold),
          kieTasks: n(cost?.kie_tasks),
          invited: n(invites?.invited),
          converted: n(invites?.converted),
          promoRedemptions: n(promos?.redemptions),
          failures: failures.map((row) => ({ errorClass: row.error_class ?? "unknown", jobs: n(row.jobs) })),
          generationP50Ms: latency?.p50 ?? null,
          generationP95Ms: latency?.p95 ?? null
        } satisfies PeriodFigures
      })

    const dayOf = (column: string) =>
      sql.onDialectOrElse({
        pg: () => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
        orElse: () => `date(${column})`
      })

    const current = Effect.fn("StatsService.current")(function*() {
      const now = yield* Clock.currentTimeMillis
      const today = utcDay(now)
      const since = utcDay(now - 6 * 86_400_000)
      const [day, week] = yield* Effect.all([period(today, today), period(since, today)])
      return { today, since, day, week } satisfies Stats
    })

    return { current: Effect.orDie(current()) } as const
  })
}) {}

const seconds = (ms: number | null) => ms === null ? "–" : `${Math.round(ms / 1000)}s`

const percent = (part: number, whole: number) => whole === 0 ? "–" : `${Math.round((100 * part) / whole)}%`

/** Delivered share of finished jobs, as a whole percentage; "–" before any job finished. */
export const successRate = (figures: Pick<PeriodFigures, "delivered" | "refunded" | "failed">) => {
  const finished = figures.delivered + figures.refunded + figures.failed
  return finished === 0 ? "–" : `${Math.round((100 * figures.delivered) / finished)}%`
}

export const formatStats = (stats: Stats, language: Language): string => {
  const t = messagesFor(language).stats
  const block = (title: string, f: PeriodFigures) =>
    [
      `${title}`,
      `${t.users} ${f.newUsers}, ${t.active} ${f.activeUsers}`,
      `${t.jobs} ${f.jobs}: ${t.delivered} ${f.delivered}, ${t.refunded} ${f.refunded}, ${t.failed} ${f.failed}, ` +
      `${t.running} ${f.inProgress} · ${t.success} ${successRate(f)}`,
      `${t.revenue} ${f.stars} ⭐ (${t.payments} ${f.payments}, ${t.credits} ${f.creditsSold})`,
      `${t.kie} ${f.delivered === 0 ? "–" : (f.kieTasks / f.delivered).toFixed(2)} · ${t.generation} ` +
      `${seconds(f.generationP50Ms)}/${seconds(f.generationP95Ms)}`,
      ...(f.failures.length === 0 ? [] : [`${t.failures}: ${f.failures.map((x) => `${x.errorClass} ${x.jobs}`).join(", ")}`]),
      // Shown once there is something to show, like the failures.
      ...(f.invited === 0 && f.promoRedemptions === 0 ? [] : [
        `${t.invites} ${f.invited}, ${t.converted} ${f.converted} (${percent(f.converted, f.invited)}) · ${t.promo} ${f.promoRedemptions}`
      ])
    ].join("\n")
  return [t.title(stats.today), block(t.today, stats.day), block(t.week(stats.since), stats.week)].join("\n\n")
}

/** The `/stats` message for an admin, in their language. */
export const statsText = (language: Language) =>
  Effect.map(Effect.flatMap(StatsService, (service) => service.current), (stats) => formatStats(stats, language))
