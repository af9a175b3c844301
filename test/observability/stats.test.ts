import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { StatsService, statsText } from "../../src/observability/stats.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { configLayer, dialects, freshSettings } from "../support/database.js"
import { DAY2, seed } from "./seed.js"

describe.each(dialects)("/stats on %s", (dialect) => {
  const withSeededStats = <A, E>(body: Effect.Effect<A, E, StatsService>) =>
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

  it.scoped("an empty database gives zeros and dashes, not errors", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect)
      yield* TestClock.setTime(Date.parse(`${DAY2}T12:00:00Z`))
      const stats = yield* Effect.flatMap(StatsService, (s) => s.current).pipe(
        Effect.provide(StatsService.Default.pipe(Layer.provide(DatabaseLive), Layer.provide(configLayer(settings))))
      )
      assert.deepStrictEqual(stats.week, {
        newUsers: 0, activeUsers: 0, jobs: 0, delivered: 0, refunded: 0, failed: 0, inProgress: 0,
        payments: 0, stars: 0, creditsSold: 0, kieTasks: 0, failures: [], generationP50Ms: null, generationP95Ms: null
      })
    }))
})
