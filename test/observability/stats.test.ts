import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { StatsService, statsText } from "../../src/observability/stats.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { configLayer, dialects, freshSettings } from "../support/database.js"
import { DAY2, seed } from "./seed.js"

describe.each(dialects)("/stats on %s", (dialect) => {
  const withSeededStats = <A, E>(body: Effect.Effect<A, E, StatsService | SqlClient.SqlClient>) =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect)
      yield* TestClock.setTime(Date.parse(`${DAY2}T12:00:00Z`))
      return yield* Effect.gen(function*() {
        yield* seed
        return yield* body
      }).pipe(
        Effect.provide(StatsService.Default.pipe(Layer.provideMerge(DatabaseLive), Layer.provide(configLayer(settings))))
      )
    })

  it.scoped("statsText gives today and the last 7 days from the views, in one compact message", () =>
    withSeededStats(Effect.gen(function*() {
      assert.strictEqual(
        yield* statsText("en"),
        [
          "📊 Stats (UTC), today 2026-11-21",
          "",
          "Today",
          "users: new 2, active 2",
          "jobs 4: delivered 1, refunded 1, failed 1, running 1 · success 33%",
          "revenue 0 ⭐ (payments 1, credits sold 5)",
          "KIE tasks/video 4.00 · generation p50/p95 90s/90s",
          "failures: DeliveryFailed 1, KieUserError 1",
          "",
          "7 days (since 2026-11-15)",
          "users: new 5, active 3",
          "jobs 8: delivered 4, refunded 2, failed 1, running 1 · success 57%",
          "revenue 1150 ⭐ (payments 3, credits sold 30)",
          "KIE tasks/video 2.25 · generation p50/p95 90s/120s",
          "failures: DeliveryFailed 1, KieTransientError 1, KieUserError 1"
        ].join("\n")
      )
      const russian = yield* statsText("ru")
      assert.include(russian, "Сегодня")
      assert.include(russian, "задания 8: готово 4, возврат 2, сбой 1, в работе 1 · успех 57%")
    })))

  it.scoped("invitations, their conversion and promo redemptions get a line once there are any", () =>
    withSeededStats(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      for (const id of [8801, 8802, 8803, 8804]) yield* sql`INSERT INTO users (id) VALUES (${id})`
      // Three invited today, one of them qualified; one invited four days ago, qualified too.
      yield* sql`INSERT INTO referrals (invitee_id, inviter_id, created_at, qualified_at) VALUES
        (8802, 8801, ${`${DAY2}T08:00:00Z`}, ${`${DAY2}T09:00:00Z`}),
        (8803, 8801, ${`${DAY2}T08:00:00Z`}, NULL),
        (8804, 8801, ${`${DAY2}T08:00:00Z`}, NULL),
        (8801, 8804, ${"2026-11-17T08:00:00Z"}, ${"2026-11-18T08:00:00Z"})`
      yield* sql`INSERT INTO promo_codes (code, credits, max_uses, created_by) VALUES ('SPRING', 2, 10, 1)`
      yield* sql`INSERT INTO promo_redemptions (code, user_id, request_key, credits, created_at) VALUES
        ('SPRING', 8802, 'a', 2, ${`${DAY2}T10:00:00Z`}), ('SPRING', 8803, 'b', 2, ${"2026-11-16T10:00:00Z"})`
      const lines = (yield* statsText("en")).split("\n").filter((line) => line.startsWith("invited"))
      assert.deepStrictEqual(lines, [
        "invited 3, qualified 1 (33%) · promo redemptions 1",
        "invited 4, qualified 2 (50%) · promo redemptions 2"
      ])
      assert.include(yield* statsText("ru"), "приглашено 4, выполнили условие 2 (50%) · активаций промокодов 2")
    })))

  it.scoped("an empty database gives zeros and dashes, not errors", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect)
      yield* TestClock.setTime(Date.parse(`${DAY2}T12:00:00Z`))
      const stats = yield* Effect.flatMap(StatsService, (s) => s.current).pipe(
        Effect.provide(StatsService.Default.pipe(Layer.provide(DatabaseLive), Layer.provide(configLayer(settings))))
      )
      assert.deepStrictEqual(stats.week, {
        newUsers: 0, activeUsers: 0, jobs: 0, delivered: 0, refunded: 0, failed: 0, inProgress: 0,
        payments: 0, stars: 0, creditsSold: 0, kieTasks: 0, invited: 0, converted: 0, promoRedemptions: 0,
        failures: [], generationP50Ms: null, generationP95Ms: null
      })
    }))
})
