import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { messagesFor } from "../../src/i18n/index.js"
import { operatorTexts } from "../../src/i18n/operator.js"
import { dialects } from "../support/database.js"
import { checkBooks } from "../support/payments-bot.js"
import { ADMIN_ID, countText, eventually, hasText, inSystem, pollingSystem, startSystemSimulators, textsTo, user } from "./support.js"

const en = messagesFor("en")
const ru = messagesFor("ru")

describe.each(dialects)("promo codes through the bot on %s", (dialect) => {
  it.scoped("admins create, list and disable codes; users redeem once each, never past max uses, expiry or withdrawal", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      yield* TestClock.setTime(Date.parse("2026-12-01T10:00:00Z"))
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const admin = user(sims, ADMIN_ID)
        const said = (chatId: number, text: string) => eventually(sims, text, () => hasText(sim, chatId, text))

        // Not an admin: the commands do not exist.
        const nosy = user(sims, 7301)
        nosy.sendCommand("promo_new", "FREE 100 100")
        yield* said(7301, en.unknownCommand)

        admin.sendCommand("promo_new", "spring25 3 2 7d")
        yield* said(ADMIN_ID, "Created SPRING25: 3 credits (free) per user, at most 2 uses, expires 2026-12-08 10:00 UTC.")
        assert.isTrue(hasText(sim, ADMIN_ID, "https://t.me/simulated_bot?start=promo_SPRING25"))
        admin.sendCommand("promo_new", "SPRING25 1 1")
        yield* said(ADMIN_ID, operatorTexts.promoExists("SPRING25"))
        admin.sendCommand("promo_new", "X 1 1")
        yield* said(ADMIN_ID, operatorTexts.promoBadCode("X"))
        admin.sendCommand("promo_new", "BIG 5000 1")
        yield* said(ADMIN_ID, "Refused: credits must be 1 to 1000")
        admin.sendCommand("promo_new", "LATE 1 1 2026-02-31")
        yield* said(ADMIN_ID, operatorTexts.promoBadExpiry("2026-02-31"))
        admin.sendCommand("promo_new", "GONE 1 1 2026-11-30")
        yield* said(ADMIN_ID, operatorTexts.promoExpiryPast)
        admin.sendCommand("promo_new", "SOON 1 10 1h")
        admin.sendCommand("promo_new", "WITHDRAWN 1 10")
        admin.sendCommand("promo_new")
        yield* said(ADMIN_ID, operatorTexts.promoUsage)
        yield* eventually(sims, "two more codes", () => countText(sim, ADMIN_ID, "Created ") === 3)

        // Ann by command (any case), Bob by deep link: the two uses. Ann again, Carl after them: refused.
        const ann = user(sims, 7302)
        ann.sendCommand("promo", "spring25")
        yield* said(7302, "Promo code accepted: 3 credits added.")
        ann.sendCommand("promo", "SPRING25")
        yield* said(7302, en.promo.refused["already-redeemed"]("SPRING25"))
        user(sims, 7303).sendCommand("start", "promo_SPRING25")
        yield* said(7303, "Promo code accepted: 3 credits added.")
        const carl = user(sims, 7304, "ru")
        carl.sendCommand("promo", "SPRING25")
        yield* said(7304, ru.promo.refused.exhausted("SPRING25"))
        carl.sendCommand("promo", "NOPE99")
        yield* said(7304, ru.promo.refused.unknown("NOPE99"))
        carl.sendCommand("promo")
        yield* said(7304, ru.promo.usage)

        admin.sendCommand("promo_disable", "withdrawn")
        yield* said(ADMIN_ID, operatorTexts.promoDisabled("WITHDRAWN"))
        admin.sendCommand("promo_disable", "WITHDRAWN")
        yield* said(ADMIN_ID, operatorTexts.promoNotFound("WITHDRAWN"))
        carl.sendCommand("promo", "WITHDRAWN")
        yield* said(7304, ru.promo.refused.disabled("WITHDRAWN"))

        // An hour passes for SOON: its expiry is moved back rather than the clock moved on, which
        // would run an hour of the cluster's timers.
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE promo_codes SET expires_at_ms = ${Date.parse("2026-12-01T10:00:00Z") - 1} WHERE code = 'SOON'`
        carl.sendCommand("promo", "SOON")
        yield* said(7304, ru.promo.refused.expired("SOON"))

        admin.sendCommand("promo_list")
        yield* said(ADMIN_ID, "SPRING25: 3 credits, used 2/2, used up")
        const list = textsTo(sim, ADMIN_ID).at(-1)!
        assert.include(list, "SOON: 1 credit, used 0/10, expired")
        assert.include(list, "WITHDRAWN: 1 credit, used 0/10, disabled")

        // Money in SQL: the promo entries are the uses, each balance is its ledger.
        const entries = yield* sql<{ user_id: unknown; op_key: string; delta_free: unknown }>`
          SELECT user_id, op_key, delta_free FROM credit_ledger WHERE kind = 'promo' ORDER BY user_id`
        assert.deepStrictEqual(entries.map((e) => [Number(e.user_id), e.op_key, Number(e.delta_free)]), [
          [7302, "promo:SPRING25:7302", 3],
          [7303, "promo:SPRING25:7303", 3]
        ])
        const [uses] = yield* sql<{ uses: unknown }>`SELECT uses FROM promo_codes WHERE code = 'SPRING25'`
        assert.strictEqual(Number(uses?.uses), 2)
        const [view] = yield* sql<{ uses: unknown; redemptions: unknown; credits_granted: unknown; disabled: unknown }>`
          SELECT uses, redemptions, credits_granted, disabled FROM analytics_promo_codes WHERE code = 'SPRING25'`
        assert.deepStrictEqual([view?.uses, view?.redemptions, view?.credits_granted, view?.disabled].map(Number), [2, 2, 6, 0])
        assert.strictEqual((yield* checkBooks(7302)).freeTokens, 2 + 3)
        assert.strictEqual((yield* checkBooks(7303)).freeTokens, 2 + 3)
        assert.strictEqual((yield* checkBooks(7304)).freeTokens, 2)
      }))
    }), 180_000)
})
