import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { messagesFor } from "../../src/i18n/index.js"
import { operatorTexts } from "../../src/i18n/operator.js"
import { dialects } from "../support/database.js"
import { DAY2, seed } from "../observability/seed.js"
import { ADMIN_ID, eventually, hasText, inSystem, pollingSystem, startSystemSimulators, textsTo, user } from "./support.js"

const en = messagesFor("en")

describe.each(dialects)("/stats through the bot on %s", (dialect) => {
  it.scoped("an admin gets today's and 7 days' figures in one message; anyone else gets the unknown-command answer", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      // The seeded history ends on DAY2; users registered by this test get the database's
      // real timestamp, after DAY2, so they do not move the figures.
      yield* TestClock.setTime(Date.parse(`${DAY2}T12:00:00Z`))
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        yield* seed
        const admin = user(sims, ADMIN_ID)
        const nosy = user(sims, 7301)

        nosy.sendCommand("stats")
        yield* eventually(sims, "unknown command", () => hasText(sim, 7301, en.unknownCommand))
        nosy.sendCommand("help")
        yield* eventually(sims, "help", () => hasText(sim, 7301, "/settings"))

        admin.sendCommand("stats")
        yield* eventually(sims, "stats", () => hasText(sim, ADMIN_ID, "📊 Stats"))
        admin.sendCommand("help")
        yield* eventually(sims, "admin help", () => hasText(sim, ADMIN_ID, "/settings"))

        const stats = textsTo(sim, ADMIN_ID).filter((text) => text.startsWith("📊"))
        assert.deepStrictEqual(stats, [
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
        ])
        assert.isTrue(hasText(sim, ADMIN_ID, operatorTexts.adminHelp))

        const nosyTexts = textsTo(sim, 7301)
        assert.isFalse(nosyTexts.some((text) => text.includes("📊") || text.includes("revenue")))
        assert.isFalse(nosyTexts.some((text) => text.includes("/stats")))
      }))
    }), 120_000)
})
