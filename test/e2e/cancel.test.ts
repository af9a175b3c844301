/**
 * Issue #19 item 4: Cancel is offered while a job waits before KIE, and works. Through the
 * Bot API simulator, on both databases: KIE is paused (out of credits), the progress message
 * says so with a Cancel button, a press refunds once and says so; a second press gets a
 * clear answer. A job that goes straight to KIE shows no Cancel that would vanish at once.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SimFaults } from "../../src/sim/kie/index.js"
import { dialects } from "../support/database.js"
import { answerOf, botMessages, eventually, hasText, inSystem, photoBytes, pollingSystem, startSystemSimulators, user, videosTo } from "./support.js"

const cancelButton = "✖️ Cancel"
const hasCancel = (message: { readonly reply_markup?: unknown }) => JSON.stringify(message.reply_markup ?? {}).includes("cancel:")

describe.each(dialects)("Cancel on %s", (dialect) => {
  it.scoped("offered while KIE is paused; a press refunds once, a second press is told it is too late", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const eve = user(sims, 7401)
        // Out of KIE credits for a while: the breaker opens and the job waits in the queue.
        sims.kie.setFaults({ createTask: Array.from({ length: 20 }, () => SimFaults.code(402, "The current credits are insufficient. Please top up.")) })
        eve.sendPhoto(photoBytes, { caption: "the tide comes in" })
        yield* eventually(sims, "paused progress with Cancel", () =>
          botMessages(sim, 7401).some((m) => (m.text ?? "").includes("temporarily unavailable") && hasCancel(m)))
        const paused = botMessages(sim, 7401).find((m) => (m.text ?? "").includes("temporarily unavailable"))!
        const first = eve.pressButton(cancelButton, paused)
        const second = eve.pressButton(cancelButton, paused)
        assert.strictEqual((yield* answerOf(first.answered())).text, "Cancelling…")
        yield* answerOf(second.answered())
        yield* eventually(sims, "cancelled and refunded", () => hasText(sim, 7401, "Cancelled before it reached the video service."))
        yield* eventually(sims, "the second press answered", () => hasText(sim, 7401, "Too late to cancel"))
        const sql = yield* SqlClient.SqlClient
        const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE user_id = ${7401} ORDER BY id`
        assert.deepStrictEqual(kinds.map((row) => row.kind), ["free_grant", "reserve", "refund"])
        const [balance] = yield* sql<{ free_tokens: number }>`SELECT free_tokens FROM balances WHERE user_id = ${7401}`
        assert.strictEqual(Number(balance!.free_tokens), 2)
        assert.strictEqual(sims.kie.tasks().length, 0)
        // The button is gone from the ended job's message.
        assert.isFalse(hasCancel(botMessages(sim, 7401).find((m) => m.message_id === paused.message_id)!))
      }))
    }), 180_000)

  it.scoped("a job that goes straight to KIE shows no Cancel button", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const fay = user(sims, 7402)
        fay.sendPhoto(photoBytes, { caption: "leaves fall" })
        yield* eventually(sims, "the video", () => videosTo(sim, 7402).length === 1, "3 minutes", "2 seconds")
        const texts = sim.callsOf("sendMessage").concat(sim.callsOf("editMessageText"))
          .filter((call) => Number(call.params.chat_id) === 7402)
        assert.isAbove(texts.length, 0)
        assert.isFalse(texts.some((call) => JSON.stringify(call.params.reply_markup ?? {}).includes("cancel:")))
      }))
    }), 180_000)
})
