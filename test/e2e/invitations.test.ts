import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { inviteCodeOf } from "../../src/domain/growth.js"
import { UserId } from "../../src/domain/ids.js"
import { messagesFor } from "../../src/i18n/index.js"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { dialects } from "../support/database.js"
import { advance, type Simulators } from "../support/job-harness.js"
import { checkBooks } from "../support/payments-bot.js"
import { countText, eventually, hasText, inSystem, photoBytes, pollingSystem, startSystemSimulators, user, videosTo } from "./support.js"

const en = messagesFor("en")
const bonusText = "A friend you invited just qualified"

/** /buy, the 5-credit package, paid; waits for the thank-you. */
const buyFive = (sims: Simulators, userId: number) =>
  Effect.gen(function*() {
    const sim = sims.telegram
    const buyer = user(sims, userId)
    const thanksBefore = countText(sim, userId, "Thank you!")
    const invoicesBefore = sim.invoices().length
    buyer.sendCommand("buy")
    yield* eventually(sims, "/buy", () => countText(sim, userId, "Buy credits with Telegram Stars") > thanksBefore)
    buyer.pressButton("Buy 5 credits for 250 ⭐")
    yield* eventually(sims, "invoice", () => sim.invoices().length > invoicesBefore)
    const paying = yield* Effect.fork(Effect.promise(() => buyer.payInvoice()))
    yield* eventually(sims, "thank-you", () => countText(sim, userId, "Thank you!") > thanksBefore)
    yield* Fiber.join(paying)
  })

const referralRows = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ invitee_id: unknown; inviter_id: unknown; outcome: string | null; bonus: unknown }>`
    SELECT invitee_id, inviter_id, outcome, bonus FROM referrals ORDER BY invitee_id`).pipe(
    Effect.map((rows) => rows.map((row) => [Number(row.invitee_id), Number(row.inviter_id), row.outcome, Number(row.bonus)]))
  )

/** Moves the clocks until the referrals table holds `expected` (the inviter's entity decides on its own time). */
const untilRows = (expected: ReadonlyArray<ReadonlyArray<unknown>>, sims: Simulators) =>
  Effect.gen(function*() {
    for (let second = 0; second < 60; second++) {
      if (JSON.stringify(yield* referralRows) === JSON.stringify(expected)) return
      yield* advance(sims.kie, "1 second", "1 second")
    }
    assert.deepStrictEqual(yield* referralRows, expected)
  })

const bonusEntries = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ user_id: unknown; op_key: string; delta_free: unknown; delta_credits: unknown }>`
    SELECT user_id, op_key, delta_free, delta_credits FROM credit_ledger WHERE kind = 'referral_bonus' ORDER BY id`).pipe(
    Effect.map((rows) => rows.map((row) => [Number(row.user_id), row.op_key, Number(row.delta_free), Number(row.delta_credits)]))
  )

/** Every user's cached balance equals their ledger sum, in one query. */
const booksBalance = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ n: unknown }>`
    SELECT COUNT(*) AS n FROM balances b
    WHERE b.credits <> (SELECT COALESCE(SUM(delta_credits), 0) FROM credit_ledger l WHERE l.user_id = b.user_id)
       OR b.free_tokens <> (SELECT COALESCE(SUM(delta_free), 0) FROM credit_ledger l WHERE l.user_id = b.user_id)`).pipe(
    Effect.map((rows) => assert.strictEqual(Number(rows[0]?.n), 0, "a balance differs from its ledger"))
  )

describe.each(dialects)("invitations through the bot on %s", (dialect) => {
  it.scoped("a new user's first purchase earns the inviter the bonus once; old users, self-invites and the daily cap earn nothing", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect, { env: { REFERRAL_BONUS: "3", REFERRAL_DAILY_CAP: "1" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const ann = user(sims, 7201)
        ann.sendCommand("start")
        yield* eventually(sims, "welcome", () => hasText(sim, 7201, "Hi User7201"))
        ann.sendCommand("invite")
        const code = inviteCodeOf(UserId.make(7201))
        const link = `https://t.me/simulated_bot?start=${code}`
        yield* eventually(sims, "/invite", () => hasText(sim, 7201, link))
        assert.isTrue(hasText(sim, 7201, "You get 3 credits free when they make their first purchase (up to one friend a day)"))
        assert.isTrue(hasText(sim, 7201, "Your friend gets 2 credits free to start."))

        // Linked: a new user through the link. Not linked: Ann herself, a user who started
        // before, a link to nobody.
        user(sims, 7202).sendCommand("start", code)
        ann.sendCommand("start", code)
        const carl = user(sims, 7203)
        carl.sendCommand("start")
        yield* eventually(sims, "Carl's welcome", () => hasText(sim, 7203, "Hi User7203"))
        carl.sendCommand("start", code)
        user(sims, 7204).sendCommand("start", inviteCodeOf(UserId.make(999_999)))
        yield* eventually(sims, "welcomes", () =>
          hasText(sim, 7202, "Hi User7202") && countText(sim, 7201, "Hi User7201") === 2 &&
          countText(sim, 7203, "Hi User7203") === 2 && hasText(sim, 7204, "Hi User7204"))
        assert.deepStrictEqual(yield* referralRows, [[7202, 7201, null, 0]])
        // Told so: Bob, linked; not Carl, who had started before, nor Dan, whose link names nobody.
        const joined = en.invite.joined("purchase")
        yield* eventually(sims, "Bob told", () => hasText(sim, 7202, joined))
        assert.deepStrictEqual([7201, 7203, 7204].map((id) => hasText(sim, id, "You came through")), [false, false, false])

        // Bob's first purchase pays Ann; his second does not.
        yield* buyFive(sims, 7202)
        yield* eventually(sims, "Ann's bonus", () => hasText(sim, 7201, bonusText))
        assert.isTrue(hasText(sim, 7201, en.invite.bonusReceived(3, yield* checkBooks(7201))))
        yield* buyFive(sims, 7202)
        yield* buyFive(sims, 7203)
        assert.deepStrictEqual([(yield* checkBooks(7201)).freeTokens, (yield* checkBooks(7201)).credits], [2 + 3, 0])

        // Eve qualifies on the same day: past Ann's cap of one bonus a day.
        user(sims, 7205).sendCommand("start", code)
        yield* eventually(sims, "Eve's welcome", () => hasText(sim, 7205, "Hi User7205"))
        yield* buyFive(sims, 7205)
        yield* untilRows([[7202, 7201, "granted", 3], [7205, 7201, "capped", 0]], sims)
        assert.strictEqual(countText(sim, 7201, bonusText), 1)

        // The message replayed (a second runner, a redelivery): the same answer, no second grant.
        const users = yield* UserEntity.client
        assert.strictEqual(yield* users("7201").ReferralBonus({ inviteeId: UserId.make(7202) }), "granted")
        assert.deepStrictEqual(yield* bonusEntries, [[7201, "referral:7202", 3, 0]])

        ann.sendCommand("invite")
        yield* eventually(sims, "/invite with results", () => hasText(sim, 7201, "Invited so far: 2, of them 2 qualified; you earned 3 credits."))
        yield* booksBalance
      }))
    }), 240_000)

  it.scoped("with REFERRAL_TRIGGER=delivered the invited user's first video earns the bonus, told in the inviter's language", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect, { env: { REFERRAL_TRIGGER: "delivered", REFERRAL_BONUS: "1" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const inna = user(sims, 7211, "ru")
        inna.sendCommand("start")
        yield* eventually(sims, "welcome", () => sim.chatHistory(7211).some((m) => m.sender === "bot"))
        inna.sendCommand("invite")
        yield* eventually(sims, "/invite in Russian", () => hasText(sim, 7211, "получит первое видео"))
        const bob = user(sims, 7212)
        bob.sendCommand("start", inviteCodeOf(UserId.make(7211)))
        yield* eventually(sims, "Bob's welcome", () => hasText(sim, 7212, "Hi User7212"))
        bob.sendPhoto(photoBytes, { caption: "the waves roll in" })
        yield* eventually(sims, "Bob's video", () => videosTo(sim, 7212).length === 1)
        yield* eventually(sims, "Inna's bonus", () => hasText(sim, 7211, "Приглашённый вами друг выполнил условие"))
        assert.deepStrictEqual(yield* referralRows, [[7212, 7211, "granted", 1]])
        assert.strictEqual((yield* checkBooks(7211)).freeTokens, 3)
        yield* booksBalance
      }))
    }), 180_000)
})
