/**
 * Read-only views for operators and Metabase (docs/analytics.md lists their columns). The
 * same SQL runs on both dialects except for three helpers: the UTC day of a timestamp as
 * 'YYYY-MM-DD' text, a timestamp as epoch milliseconds, and the position of a substring.
 * Percentiles use the nearest-rank method with window functions (SQLite has no
 * percentile_cont): the p-th percentile is the smallest value whose rank r among n values
 * satisfies 100·r ≥ p·n. Counts are cast to INTEGER so both drivers return numbers.
 *
 * On Postgres the migration also creates the NOLOGIN role `bot_readonly` with SELECT on
 * these views only; an operator gives it a password and LOGIN (see the docs). A database
 * user without CREATEROLE skips that step with a notice instead of failing start-up.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const analyticsViews = [
  "analytics_daily_jobs",
  "analytics_failures",
  "analytics_funnel",
  "analytics_revenue_daily",
  "analytics_latency_daily",
  "analytics_active_users",
  "analytics_kie_cost"
] as const

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const day = (column: string) =>
    sql.onDialectOrElse({
      pg: () => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
      orElse: () => `date(${column})`
    })
  const epochMs = (column: string) =>
    sql.onDialectOrElse({
      pg: () => `CAST(EXTRACT(EPOCH FROM ${column}) * 1000 AS BIGINT)`,
      orElse: () => `CAST(ROUND((julianday(${column}) - 2440587.5) * 86400000) AS INTEGER)`
    })
  const position = (haystack: string, needle: string) =>
    sql.onDialectOrElse({ pg: () => `strpos(${haystack}, ${needle})`, orElse: () => `instr(${haystack}, ${needle})` })
  const int = (expression: string) => `CAST(${expression} AS INTEGER)`

  // Jobs by the UTC day they were created, by where they ended (or that they have not).
  yield* sql.unsafe(`CREATE VIEW analytics_daily_jobs AS
    SELECT ${day("created_at")} AS day,
      ${int("COUNT(*)")} AS jobs,
      ${int("SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END)")} AS delivered,
      ${int("SUM(CASE WHEN state = 'refunded' THEN 1 ELSE 0 END)")} AS refunded,
      ${int("SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END)")} AS failed,
      ${int("SUM(CASE WHEN state NOT IN ('delivered', 'refunded', 'failed') THEN 1 ELSE 0 END)")} AS in_progress
    FROM jobs
    GROUP BY ${day("created_at")}`)

  // Jobs that ended without a video, by day, class and reason. The KIE code is the one the
  // job's last retried KIE error printed into its events ("…, code 501, …"), where known.
  const codeAt = position("e.detail", "', code '")
  yield* sql.unsafe(`CREATE VIEW analytics_failures AS
    WITH ended AS (
      SELECT ${day("j.created_at")} AS day, j.error_class, j.error_detail,
        (SELECT substr(e.detail, ${codeAt} + 7, 3) FROM job_events e
          WHERE e.job_id = j.id AND ${codeAt} > 0 ORDER BY e.id DESC LIMIT 1) AS kie_code
      FROM jobs j
      WHERE j.state IN ('refunded', 'failed')
    )
    SELECT day, error_class, error_detail, kie_code, ${int("COUNT(*)")} AS jobs
    FROM ended
    GROUP BY day, error_class, error_detail, kie_code`)

  // Users by signup day, and how many of them reached each step at least once.
  yield* sql.unsafe(`CREATE VIEW analytics_funnel AS
    SELECT ${day("u.created_at")} AS signup_day,
      ${int("COUNT(*)")} AS registered,
      ${int("SUM(CASE WHEN EXISTS (SELECT 1 FROM jobs j WHERE j.user_id = u.id) THEN 1 ELSE 0 END)")} AS first_job,
      ${
    int("SUM(CASE WHEN EXISTS (SELECT 1 FROM jobs j WHERE j.user_id = u.id AND j.state = 'delivered') THEN 1 ELSE 0 END)")
  } AS first_delivered,
      ${
    int(
      "SUM(CASE WHEN EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.id AND p.state <> 'received') THEN 1 ELSE 0 END)"
    )
  } AS first_payment
    FROM users u
    GROUP BY ${day("u.created_at")}`)

  // Star payments that were credited (a 'received' row has not granted anything yet), by
  // the day they were paid; refunds are counted on the day of the payment they undo.
  yield* sql.unsafe(`CREATE VIEW analytics_revenue_daily AS
    SELECT ${day("created_at")} AS day,
      ${int("COUNT(*)")} AS payments,
      ${int("COUNT(DISTINCT user_id)")} AS payers,
      ${int("SUM(stars)")} AS stars,
      ${int("SUM(credits)")} AS credits_sold,
      ${int("SUM(CASE WHEN state = 'refunded' THEN stars ELSE 0 END)")} AS refunded_stars,
      ${int("SUM(CASE WHEN state = 'refunded' THEN 0 ELSE stars END)")} AS net_stars
    FROM payments
    WHERE state <> 'received'
    GROUP BY ${day("created_at")}`)

  // Delivered jobs by the day they were delivered. Generation: job created → KIE success
  // (both on the runner's clock). Delivery: KIE success → delivered_at (the database's).
  yield* sql.unsafe(`CREATE VIEW analytics_latency_daily AS
    WITH timed AS (
      SELECT ${day("delivered_at")} AS day,
        ${int("kie_succeeded_at_ms - created_at_ms")} AS generation_ms,
        ${int(`${epochMs("delivered_at")} - kie_succeeded_at_ms`)} AS delivery_ms
      FROM jobs
      WHERE state = 'delivered' AND delivered_at IS NOT NULL
        AND kie_succeeded_at_ms IS NOT NULL AND created_at_ms IS NOT NULL
    ), ranked AS (
      SELECT day, generation_ms, delivery_ms,
        ROW_NUMBER() OVER (PARTITION BY day ORDER BY generation_ms) AS generation_rank,
        ROW_NUMBER() OVER (PARTITION BY day ORDER BY delivery_ms) AS delivery_rank,
        COUNT(*) OVER (PARTITION BY day) AS n
      FROM timed
    )
    SELECT day,
      ${int("MAX(n)")} AS delivered,
      ${int("MIN(CASE WHEN generation_rank * 100 >= 50 * n THEN generation_ms END)")} AS generation_p50_ms,
      ${int("MIN(CASE WHEN generation_rank * 100 >= 95 * n THEN generation_ms END)")} AS generation_p95_ms,
      ${int("MIN(CASE WHEN delivery_rank * 100 >= 50 * n THEN delivery_ms END)")} AS delivery_p50_ms,
      ${int("MIN(CASE WHEN delivery_rank * 100 >= 95 * n THEN delivery_ms END)")} AS delivery_p95_ms
    FROM ranked
    GROUP BY day`)

  // Users who started at least one job on the day, and how many of them were new that day.
  yield* sql.unsafe(`CREATE VIEW analytics_active_users AS
    SELECT ${day("j.created_at")} AS day,
      ${int("COUNT(DISTINCT j.user_id)")} AS active_users,
      ${int(`COUNT(DISTINCT CASE WHEN ${day("u.created_at")} = ${day("j.created_at")} THEN j.user_id END)`)} AS new_active_users,
      ${int("COUNT(*)")} AS jobs
    FROM jobs j JOIN users u ON u.id = j.user_id
    GROUP BY ${day("j.created_at")}`)

  // There is no KIE price column: the cost is counted in KIE tasks (jobs.attempts, one per
  // createTask) per delivered video, for the jobs created that day.
  yield* sql.unsafe(`CREATE VIEW analytics_kie_cost AS
    SELECT ${day("created_at")} AS day,
      ${int("COUNT(*)")} AS jobs,
      ${int("SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END)")} AS delivered,
      ${int("SUM(attempts)")} AS kie_tasks,
      ${int("SUM(CASE WHEN state = 'delivered' THEN attempts ELSE 0 END)")} AS kie_tasks_delivered,
      ${int("SUM(CASE WHEN state = 'delivered' THEN cost ELSE 0 END)")} AS credits_charged
    FROM jobs
    GROUP BY ${day("created_at")}`)

  yield* sql.onDialectOrElse({
    pg: () =>
      sql.unsafe(`DO $$
        BEGIN
          BEGIN
            CREATE ROLE bot_readonly NOLOGIN;
          EXCEPTION
            -- Another database of the same server may be creating it at this moment.
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
              RAISE NOTICE 'no CREATEROLE: bot_readonly not created';
              RETURN;
          END;
          EXECUTE format('GRANT CONNECT ON DATABASE %I TO bot_readonly', current_database());
          GRANT USAGE ON SCHEMA public TO bot_readonly;
          GRANT SELECT ON ${analyticsViews.join(", ")} TO bot_readonly;
        END $$`),
    orElse: () => Effect.void
  })
})
