/**
 * Support and data deletion end to end, through the Bot API simulator, as users and an
 * admin act: a request relayed to the admins and answered back, /forget, on both databases.
 */
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { Message } from "grammy/types"
import { operatorTexts } from "../../../src/i18n/operator.js"
import { dialects } from "../../support/database.js"
import { checkBooks } from "../../support/payments-bot.js"
import {
  ADMIN_ID,
  botMessages,
  countText,
  eventually,
  hasText,
  inSystem,
  photoBytes,
  pollingSystem,
  startSystemSimulators,
  textsTo,
  user,
  videosTo
} from "../../e2e/support.js"

/** The admin's latest copy of a request from `userId`. */
const requestFrom = (messages: ReadonlyArray<Message>, userId: number): Message | undefined =>
  messages.filter((m) => m.text?.startsWith("✉️ Support request") === true && m.text.includes(`user ${userId}`)).at(-1)

describe.each(dialects)("support on %s", (dialect) => {
  it.scoped("a request reaches the admin with who wrote it; the admin's reply reaches the user; cancel sends nothing", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const admin = user(sims, ADMIN_ID)
        const ann = user(sims, 7501)
        ann.sendCommand("paysupport")
        yield* eventually(sims, "prompt", () => hasText(sim, 7501, "Support: write your message now"))
        ann.sendText("I paid 250 stars on Monday and got no credits")
        yield* eventually(sims, "relayed", () => requestFrom(botMessages(sim, ADMIN_ID), 7501) !== undefined)
        yield* eventually(sims, "user told", () => hasText(sim, 7501, "Your message has reached our support team"))
        const copy = requestFrom(botMessages(sim, ADMIN_ID), 7501)!
        for (const part of ["from User7501", "user 7501, language en", "Balance: 0 credits and 2 free", "Last payments: none", "I paid 250 stars on Monday"]) {
          assert.include(copy.text, part)
        }

        admin.sendText("We found it: 5 credits are on your balance now.", { replyTo: copy.message_id })
        yield* eventually(sims, "answer delivered", () => hasText(sim, 7501, "💬 Support:\nWe found it: 5 credits"))
        yield* eventually(sims, "admin told", () => hasText(sim, ADMIN_ID, operatorTexts.supportAnswerSent(7501)))
        const answer = botMessages(sim, 7501).find((m) => m.text?.startsWith("💬 Support:"))!
        assert.strictEqual(answer.reply_markup?.inline_keyboard[0]?.[0]?.text, "✉️ Contact support")
        admin.sendSticker({ replyTo: copy.message_id })
        yield* eventually(sims, "text only", () => hasText(sim, ADMIN_ID, operatorTexts.supportAnswerNotText))

        // The request is closed: the next message is the bot's again.
        ann.sendText("thanks!")
        yield* eventually(sims, "hint", () => hasText(sim, 7501, "Please send me a photo"))
        assert.strictEqual(botMessages(sim, ADMIN_ID).filter((m) => m.text?.startsWith("✉️ Support request") === true).length, 1)

        // A Russian user opens a request with the button under /help; a photo sent to support is not a video.
        const ivan = user(sims, 7502, "ru")
        ivan.sendCommand("help")
        yield* eventually(sims, "help", () => hasText(sim, 7502, "/buy — купить кредиты"))
        ivan.pressButton("✉️ Написать в поддержку")
        yield* eventually(sims, "prompt", () => hasText(sim, 7502, "Напишите сообщение для поддержки"))
        ivan.sendPhoto(photoBytes, { caption: "screenshot of the payment" })
        yield* eventually(sims, "relayed", () => requestFrom(botMessages(sim, ADMIN_ID), 7502) !== undefined)
        yield* eventually(sims, "user told", () => hasText(sim, 7502, "Ваше сообщение получила наша поддержка"))
        assert.include(requestFrom(botMessages(sim, ADMIN_ID), 7502)!.text, "[photo: only its caption is relayed] screenshot of the payment")
        assert.strictEqual(sims.kie.tasks().length, 0)
        admin.sendText("Refunded.", { replyTo: requestFrom(botMessages(sim, ADMIN_ID), 7502)!.message_id })
        yield* eventually(sims, "answer in Russian", () => hasText(sim, 7502, "💬 Поддержка:\nRefunded."))

        // Cancel under the prompt: the next message is not relayed.
        const cid = user(sims, 7503)
        cid.sendCommand("privacy")
        yield* eventually(sims, "privacy", () => hasText(sim, 7503, "Privacy:"))
        cid.pressButton("✉️ Contact support")
        yield* eventually(sims, "prompt", () => hasText(sim, 7503, "Write your message to support now"))
        cid.pressButton("✖️ Cancel")
        yield* eventually(sims, "cancelled", () => hasText(sim, 7503, "Cancelled: nothing was sent to support."))
        cid.sendText("never mind")
        yield* eventually(sims, "hint", () => hasText(sim, 7503, "Please send me a photo"))
        assert.isUndefined(requestFrom(botMessages(sim, ADMIN_ID), 7503))
        // An admin's plain message (no reply) is not taken for an answer.
        admin.sendText("hello bot")
        yield* eventually(sims, "admin hint", () => hasText(sim, ADMIN_ID, "Please send me a photo"))
      }))
    }), 180_000)

  it.scoped("a relay that failed for one admin is handled again: each admin gets one copy, the user one confirmation", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect, { env: { ADMIN_IDS: `${ADMIN_ID},9002` } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        user(sims, ADMIN_ID)
        user(sims, 9002)
        const eva = user(sims, 7511)
        // More failures than the gateway's own retries: the handling fails once and runs again.
        sim.injectFault({ kind: "server_error", method: "sendMessage", chatId: 9002, times: 4 })
        eva.sendCommand("paysupport")
        yield* eventually(sims, "prompt", () => hasText(sim, 7511, "Support: write your message now"))
        eva.sendText("where are my credits?")
        yield* eventually(sims, "user told", () => hasText(sim, 7511, "Your message has reached our support team"))
        yield* eventually(sims, "second admin", () => requestFrom(botMessages(sim, 9002), 7511) !== undefined)
        const copies = (chatId: number) => botMessages(sim, chatId).filter((m) => m.text?.startsWith("✉️ Support request") === true).length
        assert.deepStrictEqual([copies(ADMIN_ID), copies(9002)], [1, 1])
        assert.strictEqual(sim.callsOf("sendMessage").filter((c) => Number(c.params.chat_id) === 9002 && !c.outcome.ok).length, 4)
        assert.strictEqual(countText(sim, 7511, "Your message has reached our support team"), 1)
        // Either admin's reply reaches the user.
        user(sims, 9002).sendText("On it.", { replyTo: requestFrom(botMessages(sim, 9002), 7511)!.message_id })
        yield* eventually(sims, "answer", () => hasText(sim, 7511, "💬 Support:\nOn it."))
        // The other admin learns that it has been answered.
        yield* eventually(sims, "the other admin told", () => hasText(sim, ADMIN_ID, operatorTexts.supportAnsweredBy("User9002", 7511, "On it.")))
      }))
    }), 180_000)

  it.scoped("/forget deletes the user's data but the money records, tells them once, and refuses a bad id", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const admin = user(sims, ADMIN_ID)
        const dan = user(sims, 7601)
        dan.sendPhoto(photoBytes, { caption: "the waves roll in" })
        yield* eventually(sims, "video", () => videosTo(sim, 7601).length === 1)
        dan.sendCommand("settings")
        yield* eventually(sims, "settings", () => hasText(sim, 7601, "Choose the model and duration"))
        dan.pressButton("Kling 2.6 · 10 s · 2 credits")
        yield* eventually(sims, "saved", () => hasText(sim, 7601, "Saved: Kling 2.6, 10 s"))
        dan.sendCommand("paysupport")
        yield* eventually(sims, "prompt", () => hasText(sim, 7601, "Support: write your message now"))
        dan.sendText("Please delete my data")
        yield* eventually(sims, "relayed", () => requestFrom(botMessages(sim, ADMIN_ID), 7601) !== undefined)
        const before = yield* checkBooks(7601)
        const storedUpdates = sql`SELECT update_id FROM telegram_inbox WHERE user_id = 7601`
        assert.isAbove((yield* storedUpdates).length, 0)

        for (const [args, expected] of [["", operatorTexts.forgetUsage], ["abc", operatorTexts.forgetUsage], ["-5", operatorTexts.forgetUsage], ["12 13", operatorTexts.forgetUsage], ["123456", operatorTexts.grantNoSuchUser(123456)]] as const) {
          const count = countText(sim, ADMIN_ID, expected)
          admin.sendCommand("forget", args)
          yield* eventually(sims, `answer to /forget ${args}`, () => countText(sim, ADMIN_ID, expected) === count + 1)
        }

        admin.sendCommand("forget", "7601")
        yield* eventually(sims, "forgotten", () => hasText(sim, ADMIN_ID, "Deleted the data of user 7601"))
        const done = textsTo(sim, ADMIN_ID).find((t) => t.startsWith("Deleted the data of user 7601"))!
        assert.include(done, "profile, settings, captions and photos of 1 videos, 1 support records, 0 set-aside updates")
        assert.include(done, operatorTexts.forgetTold)
        yield* eventually(sims, "user told", () => hasText(sim, 7601, "Your data has been deleted as you asked"))

        const [profile] = yield* sql<{ first_name: string | null; username: string | null; language: string | null; forgotten_at: unknown }>`
          SELECT first_name, username, language, forgotten_at FROM users WHERE id = 7601`
        assert.deepStrictEqual([profile!.first_name, profile!.username, profile!.language], [null, null, null])
        assert.isNotNull(profile!.forgotten_at)
        const jobs = yield* sql<{ prompt: string; photo_file_id: string; result_url: string | null; state: string }>`
          SELECT prompt, photo_file_id, result_url, state FROM jobs WHERE user_id = 7601`
        assert.deepStrictEqual(jobs.map((j) => [j.prompt, j.photo_file_id, j.result_url, j.state]), [["", "", null, "delivered"]])
        assert.strictEqual((yield* sql`SELECT 1 FROM user_settings WHERE user_id = 7601`).length, 0)
        assert.strictEqual((yield* sql`SELECT 1 FROM support_relays WHERE user_id = 7601`).length, 0)
        // What the user wrote is gone from the cluster's stored messages too.
        assert.deepStrictEqual(yield* storedUpdates, [])
        // The money records stay as they were.
        assert.deepStrictEqual(yield* checkBooks(7601), before)
        assert.isAbove((yield* sql`SELECT 1 FROM credit_ledger WHERE user_id = 7601`).length, 0)

        // Again: nothing left, and the user is not written to twice.
        admin.sendCommand("forget", "7601")
        yield* eventually(sims, "nothing left", () => hasText(sim, ADMIN_ID, "Nothing left to delete for user 7601"))
        assert.strictEqual(countText(sim, 7601, "Your data has been deleted"), 1)
        // The old "Generate again" button finds no photo to use.
        dan.pressButton("🔁 Generate again", botMessages(sim, 7601).find((m) => m.video !== undefined))
        yield* eventually(sims, "stale", () => sim.callsOf("answerCallbackQuery").some((c) => String(c.params.text ?? "").includes("no longer works")))
        assert.strictEqual(videosTo(sim, 7601).length, 1)

        // An admin may forget themselves (handled in their own entity).
        admin.sendCommand("forget", String(ADMIN_ID))
        yield* eventually(sims, "admin forgotten", () => hasText(sim, ADMIN_ID, `Deleted the data of user ${ADMIN_ID}: profile`))
      }))
    }), 180_000)
})

describe("support without admins", () => {
  it.scoped("the user is told that support cannot be reached, and their message is not taken for a photo", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite", { env: { ADMIN_IDS: "" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const fay = user(sims, 7521)
        fay.sendCommand("paysupport")
        yield* eventually(sims, "prompt", () => hasText(sim, 7521, "Support: write your message now"))
        fay.sendText("hello?")
        yield* eventually(sims, "unavailable", () => hasText(sim, 7521, "support cannot be reached through the bot"))
        assert.isFalse(hasText(sim, 7521, "Your message has reached"))
      }))
    }), 120_000)
})
