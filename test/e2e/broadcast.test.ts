/**
 * Broadcasts as an admin runs them, on SQLite and Postgres: /broadcast in reply to a
 * message → the preview and a confirm button → every user who has not blocked the bot gets
 * the message once, a user who blocked it unnoticed is marked blocked, and the admin gets
 * the final report. Then a photo campaign paused, resumed and cancelled.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { operatorTexts } from "../../src/i18n/operator.js"
import { broadcastCallbackData } from "../../src/telegram/callback-data.js"
import { dialects } from "../support/database.js"
import { withTicks } from "../support/job-harness.js"
import { ADMIN_ID, answerOf, botMessages, eventually, hasText, inSystem, photoBytes, pollingSystem, pressForged, startSystemSimulators, user } from "./support.js"

const receivedBy = (sims: { telegram: { chatHistory: (id: number) => ReadonlyArray<{ sender: string; message: { text?: string; caption?: string } }> } }, chatId: number, fragment: string) =>
  sims.telegram.chatHistory(chatId).filter((m) => m.sender === "bot" && (m.message.text ?? m.message.caption ?? "").includes(fragment)).length

describe.each(dialects)("broadcasts on %s", (dialect) => {
  it.scoped("an admin's text reaches every reachable user once, with its button; a 403 marks the user blocked; the report counts", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const ids = [7601, 7602, 7603, 7604, 7605]
        for (const id of ids) user(sims, id).sendCommand("start")
        yield* eventually(sims, "welcomes", () => ids.every((id) => botMessages(sim, id).length > 0))
        // 7604 blocked the bot without the bot hearing of it: only the send finds out (403).
        sim.injectFault({ kind: "blocked", chatId: 7604 })
        const admin = user(sims, ADMIN_ID)

        // Without a reply: how to use it. A sticker: refused.
        admin.sendCommand("broadcast")
        yield* eventually(sims, "usage", () => hasText(sim, ADMIN_ID, operatorTexts.broadcastUsage))
        // Not an admin: the command does not exist.
        user(sims, 7601).sendCommand("broadcast")
        yield* eventually(sims, "unknown command", () => hasText(sim, 7601, "Unknown command"))

        // A preview Telegram refuses: no campaign, and the admin is told why.
        const draft = admin.sendText("Draft").message
        // The bot answers the text itself first (a hint); the fault is for the preview.
        yield* eventually(sims, "hint", () => hasText(sim, ADMIN_ID, "Please send me a photo"))
        sim.injectFault({ kind: "error", code: 400, description: "Bad Request: can't parse entities", method: "sendMessage", chatId: ADMIN_ID, times: 1 })
        admin.sendCommand("broadcast", undefined, { replyTo: draft.message_id })
        yield* eventually(sims, "preview refused", () => hasText(sim, ADMIN_ID, "Telegram refused the preview"))

        const news = admin.sendText("Big news: a new model is out!").message
        admin.sendCommand("broadcast", "\nTry it | https://example.com/new", { replyTo: news.message_id })
        yield* eventually(sims, "confirm", () => hasText(sim, ADMIN_ID, "📣 Broadcast #"))
        // Everyone known and not blocked: the five users and the admin.
        const confirm = botMessages(sim, ADMIN_ID).find((m) => m.text?.startsWith("📣 Broadcast #"))!
        assert.include(confirm.text!, "goes to 6 users")
        const preview = botMessages(sim, ADMIN_ID).find((m) => m.text === "Big news: a new model is out!")!
        assert.deepStrictEqual(preview.reply_markup?.inline_keyboard, [[{ text: "Try it", url: "https://example.com/new" }]])
        const id = Number(/#(\d+)/.exec(confirm.text!)![1])

        // Two taps on "send" before the bot reads either: one campaign.
        const first = admin.pressButton(operatorTexts.broadcastSend(6), confirm)
        const second = admin.pressButton(operatorTexts.broadcastSend(6), confirm)
        const answers = yield* answerOf(Promise.all([first.answered(), second.answered()]))
        assert.strictEqual(answers[1].text, operatorTexts.broadcastNow("running"))

        // A user forging the admin's cancel button gets the stale answer; the campaign goes on.
        const forgedAnswer = yield* pressForged(sim, 7602, broadcastCallbackData("cancel", id), botMessages(sim, 7602)[0]!)
        assert.include(forgedAnswer.text!, "no longer works")

        yield* eventually(sims, "report", () => hasText(sim, ADMIN_ID, `📣 Broadcast #${id} finished`))
        const report = botMessages(sim, ADMIN_ID).filter((m) => m.text?.startsWith(`📣 Broadcast #${id} finished`))
        assert.include(report.at(-1)!.text!, "sent 5 of 6 · blocked 1 · failed 0")
        // The refused draft was never started, so it has no report.
        assert.isFalse(hasText(sim, ADMIN_ID, `📣 Broadcast #${id - 1}`))
        for (const target of [7601, 7602, 7603, 7605]) assert.strictEqual(receivedBy(sims, target, "Big news"), 1, `user ${target}`)
        // The admin: the preview and their own copy.
        assert.strictEqual(receivedBy(sims, ADMIN_ID, "Big news"), 2)
        const blocked = yield* sql<{ blocked_at: unknown }>`SELECT blocked_at FROM users WHERE id = 7604`
        assert.isNotNull(blocked[0]!.blocked_at)
        const states = yield* sql<{ state: string; n: number | string }>`
          SELECT state, COUNT(*) AS n FROM broadcast_recipients WHERE broadcast_id = ${id} GROUP BY state ORDER BY state`
        assert.deepStrictEqual(states.map((row) => [row.state, Number(row.n)]), [["blocked", 1], ["sent", 5]])
        const view = yield* sql<Record<string, unknown>>`
          SELECT kind, state, recipients, sent, blocked, failed, not_sent, resent FROM analytics_broadcasts WHERE broadcast_id = ${id}`
        assert.deepStrictEqual(view.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v]))), [
          { kind: "text", state: "done", recipients: 6, sent: 5, blocked: 1, failed: 0, not_sent: 0, resent: 0 }
        ])
      }))
    }), 120_000)

  it.scoped("a photo campaign paused sends nothing until resumed; cancelled, it reports what was not sent", () =>
    Effect.gen(function*() {
      // Two messages a second for broadcasts: slow enough to press buttons in between.
      const sims = yield* startSystemSimulators(dialect, { env: { BROADCAST_MESSAGES_PER_SECOND: "2" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const ids = Array.from({ length: 60 }, (_, i) => 7701 + i)
        for (const id of ids) user(sims, id)
        yield* sql`INSERT INTO users ${sql.insert(ids.map((id) => ({ id, first_name: `User${id}`, language: "en" })))}`
        const admin = user(sims, ADMIN_ID)
        const photo = admin.sendPhoto(photoBytes, { caption: "Summer sale" }).message
        admin.sendCommand("broadcast", undefined, { replyTo: photo.message_id })
        yield* eventually(sims, "confirm", () => hasText(sim, ADMIN_ID, "📣 Broadcast #"))
        const confirm = botMessages(sim, ADMIN_ID).find((m) => m.text?.startsWith("📣 Broadcast #"))!
        const total = ids.length + 1
        yield* answerOf(admin.pressButton(operatorTexts.broadcastSend(total), confirm).answered())
        // The admin's preview is one of these calls.
        const sentPhotos = () => sim.callsOf("sendPhoto").filter((c) => c.params.caption === "Summer sale").length - 1
        yield* eventually(sims, "some sent", () => sentPhotos() >= 10)

        yield* answerOf(admin.pressButton(operatorTexts.broadcastPause, confirm.message_id).answered())
        // The batch in flight finishes; then nothing more.
        yield* eventually(sims, "paused", () => hasText(sim, ADMIN_ID, "paused:"))
        yield* withTicks(Effect.sleep("10 seconds"), 100)
        const atPause = sentPhotos()
        yield* withTicks(Effect.sleep("15 seconds"), 100)
        assert.strictEqual(sentPhotos(), atPause)
        assert.isBelow(atPause, total)

        yield* answerOf(admin.pressButton(operatorTexts.broadcastResume, confirm.message_id).answered())
        yield* eventually(sims, "more sent", () => sentPhotos() >= atPause + 5)
        yield* answerOf(admin.pressButton(operatorTexts.broadcastCancel, confirm.message_id).answered())
        yield* eventually(sims, "report", () => hasText(sim, ADMIN_ID, "cancelled:"))
        const report = botMessages(sim, ADMIN_ID).filter((m) => m.text?.includes("cancelled:")).at(-1)!.text!
        const sent = sentPhotos()
        assert.isBelow(sent, total)
        assert.include(report, `sent ${sent} of ${total}`)
        assert.include(report, `not sent ${total - sent}`)
        // Nobody twice.
        const perChat = new Map<number, number>()
        for (const call of sim.callsOf("sendPhoto").filter((c) => c.params.caption === "Summer sale")) {
          perChat.set(Number(call.params.chat_id), (perChat.get(Number(call.params.chat_id)) ?? 0) + 1)
        }
        perChat.set(ADMIN_ID, perChat.get(ADMIN_ID)! - 1)
        assert.deepStrictEqual([...perChat.values()].filter((n) => n > 1), [])
      }))
    }), 180_000)
})
