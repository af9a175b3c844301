import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { DatabaseLive } from "../../src/storage/database.js"
import { configLayer, dialects, freshSettings } from "../support/database.js"
import { DAY1, DAY2, seed } from "./seed.js"

describe.each(dialects)("analytics views on %s", (dialect) => {
  const withSeededDatabase = <A, E>(body: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect)
      return yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* seed
        return yield* body(sql)
      }).pipe(Effect.provide(DatabaseLive.pipe(Layer.provide(configLayer(settings)))))
    }).pipe(Effect.scoped)

  const rows = (view: string, order: string) =>
    withSeededDatabase((sql) => sql.unsafe<Record<string, unknown>>(`SELECT * FROM ${view} ORDER BY ${order}`))

  it.live("analytics_daily_jobs counts jobs by creation day and outcome", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* rows("analytics_daily_jobs", "day"), [
        { day: DAY1, jobs: 4, delivered: 3, refunded: 1, failed: 0, in_progress: 0 },
        { day: DAY2, jobs: 4, delivered: 1, refunded: 1, failed: 1, in_progress: 1 }
      ])
    }))

  it.live("analytics_failures groups ended jobs by class and reason, with the KIE code where an event printed one", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* rows("analytics_failures", "day, error_class"), [
        { day: DAY1, error_class: "KieTransientError", error_detail: "RateLimited", kie_code: "429", jobs: 1 },
        { day: DAY2, error_class: "DeliveryFailed", error_detail: "Forbidden", kie_code: null, jobs: 1 },
        { day: DAY2, error_class: "KieUserError", error_detail: "ContentPolicy", kie_code: null, jobs: 1 }
      ])
    }))

  it.live("analytics_funnel follows each signup day through first job, first video and first credited payment", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* rows("analytics_funnel", "signup_day"), [
        { signup_day: DAY1, registered: 3, first_job: 2, first_delivered: 2, first_payment: 1 },
        { signup_day: DAY2, registered: 2, first_job: 1, first_delivered: 0, first_payment: 1 }
      ])
    }))

  it.live("analytics_revenue_daily sums credited payments and the stars refunded", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* rows("analytics_revenue_daily", "day"), [
        { day: DAY1, payments: 2, payers: 1, stars: 1150, credits_sold: 25, refunded_stars: 0, net_stars: 1150 },
        { day: DAY2, payments: 1, payers: 1, stars: 250, credits_sold: 5, refunded_stars: 250, net_stars: 0 }
      ])
    }))

  it.live("analytics_latency_daily gives nearest-rank p50 and p95 of generation and delivery times", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* rows("analytics_latency_daily", "day"), [
        {
          day: DAY1,
          delivered: 3,
          generation_p50_ms: 60_000,
          generation_p95_ms: 120_000,
          delivery_p50_ms: 5_000,
          delivery_p95_ms: 10_000
        },
        {
          day: DAY2,
          delivered: 1,
          generation_p50_ms: 90_000,
          generation_p95_ms: 90_000,
          delivery_p50_ms: 4_000,
          delivery_p95_ms: 4_000
        }
      ])
    }))

  it.live("analytics_active_users counts distinct users with a job that day and the new ones among them", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* rows("analytics_active_users", "day"), [
        { day: DAY1, active_users: 2, new_active_users: 2, jobs: 4 },
        { day: DAY2, active_users: 2, new_active_users: 1, jobs: 4 }
      ])
    }))

  it.live("analytics_kie_cost counts KIE tasks against delivered videos", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* rows("analytics_kie_cost", "day"), [
        { day: DAY1, jobs: 4, delivered: 3, kie_tasks: 5, kie_tasks_delivered: 4, credits_charged: 3 },
        { day: DAY2, jobs: 4, delivered: 1, kie_tasks: 4, kie_tasks_delivered: 1, credits_charged: 2 }
      ])
    }))

  if (dialect === "pg") {
    it.live("the bot_readonly role may read the views and nothing else", () =>
      withSeededDatabase((sql) =>
        Effect.gen(function*() {
          const grants = yield* sql<{ table_name: string }>`
            SELECT table_name FROM information_schema.role_table_grants
            WHERE grantee = 'bot_readonly' AND privilege_type = 'SELECT' AND table_catalog = current_database()
            ORDER BY table_name`
          assert.deepStrictEqual(grants.map((g) => g.table_name), [
            "analytics_active_users",
            "analytics_broadcasts",
            "analytics_daily_jobs",
            "analytics_failures",
            "analytics_funnel",
            "analytics_kie_cost",
            "analytics_latency_daily",
            "analytics_presets_daily",
            "analytics_promo_codes",
            "analytics_promo_redemptions_daily",
            "analytics_referrals_daily",
            "analytics_revenue_daily"
          ])
          const role = yield* sql<{ rolcanlogin: boolean }>`SELECT rolcanlogin FROM pg_roles WHERE rolname = 'bot_readonly'`
          assert.deepStrictEqual(role, [{ rolcanlogin: false }])
          // As the role: the views answer, the tables do not.
          const read = yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`SET LOCAL ROLE bot_readonly`
            return yield* sql<{ jobs: number }>`SELECT jobs FROM analytics_daily_jobs ORDER BY day`
          }))
          assert.deepStrictEqual(read.map((r) => r.jobs), [4, 4])
          const denied = yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`SET LOCAL ROLE bot_readonly`
            return yield* sql`SELECT * FROM jobs`
          })).pipe(Effect.flip)
          assert.match(String(denied.cause), /permission denied/)
        })
      ))
  }
})
