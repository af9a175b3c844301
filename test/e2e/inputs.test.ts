import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  ADMIN_ID,
  answerOf,
  botMessages,
  countText,
  eventually,
  hasText,
  inSystem,
  photoBytes,
  pollingSystem,
  pushTwice,
  startSystemSimulators,
  textsTo,
  user,
  videosTo
} from "./support.js"

const HINT = "Please send me a photo (or an image file)"

describe("inputs, buttons and commands (SQLite, polling)", () => {
  it.scoped("every input that cannot become a video gets a short hint, and nothing is charged", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const gus = user(sims, 7201)
        gus.sendText("make me a video")
        gus.sendSticker()
        gus.sendVideo(new Uint8Array(64))
        gus.sendVoice(new Uint8Array(64))
        gus.sendDocument(new Uint8Array(64), { fileName: "notes.pdf", mimeType: "application/pdf" })
        gus.sendCommand("frobnicate")
        gus.sendCommand("grant", "7201 100 free money")
        yield* eventually(sims, "all answered", () => textsTo(sim, 7201).length === 7)
        assert.strictEqual(countText(sim, 7201, HINT), 4)
        assert.strictEqual(countText(sim, 7201, "This file is not an image"), 1)
        assert.strictEqual(countText(sim, 7201, "Unknown command"), 2)

        // /settings: Wan 2.5 accepts 800 characters; a longer caption is refused with the limit.
        gus.sendCommand("settings")
        yield* eventually(sims, "settings", () => hasText(sim, 7201, "Choose the model and duration"))
        const settings = botMessages(sim, 7201).find((m) => m.text?.startsWith("Choose the model"))!
        const labels = settings.reply_markup!.inline_keyboard.flat().map((b) => b.text)
        assert.include(labels, "✅ Kling 2.6 · 5 s · 1 credit")
        assert.include(labels, "Seedance 1.5 Pro · 12 s · 3 credits")
        const chosen = gus.pressButton("Wan 2.5 · 5 s · 1 credit", settings)
        assert.include(String((yield* answerOf(chosen.answered())).text), "Saved: Wan 2.5, 5 s")
        gus.sendPhoto(photoBytes, { caption: "x".repeat(900) })
        yield* eventually(sims, "caption refused", () => hasText(sim, 7201, "accepts at most 800"))
        assert.include(textsTo(sim, 7201).find((t) => t.includes("accepts at most"))!, "Your caption has 900 characters")

        // An image sent as a file is accepted, with the chosen model.
        gus.sendDocument(photoBytes, { fileName: "beach.jpg", mimeType: "image/jpeg", caption: "waves" })
        yield* eventually(sims, "video from an image file", () => videosTo(sim, 7201).length === 1)
        assert.strictEqual(sims.kie.tasks()[0]!.model, "wan/2-5-image-to-video")
        const sql = yield* SqlClient.SqlClient
        const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE user_id = 7201 ORDER BY id`
        assert.deepStrictEqual(kinds.map((r) => r.kind), ["free_grant", "reserve", "capture"])
      }))
    }), 120_000)

  it.scoped("forged and foreign buttons are refused politely and free; a duplicate update is handled once; one job in flight", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite", { env: { MAX_JOBS_IN_FLIGHT: "1" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const hal = user(sims, 7202)
        const ivy = user(sims, 7203)
        hal.sendPhoto(photoBytes, { caption: "hal's photo" })
        yield* eventually(sims, "hal's video", () => videosTo(sim, 7202).length === 1)
        const halsVideo = botMessages(sim, 7202).find((m) => m.video !== undefined)!
        const againData = halsVideo.reply_markup!.inline_keyboard[0]![0]! as { callback_data: string }

        // Ivy forges Hal's button, and some garbage.
        ivy.sendCommand("start")
        yield* eventually(sims, "ivy welcomed", () => hasText(sim, 7203, "I turn a photo"))
        const ivysWelcome = botMessages(sim, 7203)[0]!
        for (const data of [againData.callback_data, "cancel:job_000000000000000000000000", "again:../../etc", "set:99:5", "buy:five", "set:0:5"]) {
          const update = sim.pushUpdate({
            callback_query: {
              id: `forged-${data}`,
              from: { id: 7203, is_bot: false, first_name: "Ivy" },
              chat_instance: "x",
              message: ivysWelcome as never,
              data
            }
          })
          assert.isDefined(update)
        }
        const forgedAnswers = () =>
          sim.callsOf("answerCallbackQuery").filter((call) => String(call.params.callback_query_id).startsWith("forged-"))
        yield* eventually(sims, "forged presses answered", () => new Set(forgedAnswers().map((c) => c.params.callback_query_id)).size === 6)
        for (const call of forgedAnswers()) {
          assert.strictEqual(call.params.text, "This button no longer works. Send a new photo to start again.", JSON.stringify(call))
        }
        const sql = yield* SqlClient.SqlClient
        const ivysJobs = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM jobs WHERE user_id = 7203`
        assert.strictEqual(Number(ivysJobs[0]!.n), 0)
        const ivysSettings = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM user_settings WHERE user_id = 7203`
        assert.strictEqual(Number(ivysSettings[0]!.n), 0, "a settings button by catalog position changes nothing")

        // The same update delivered twice (same update_id): one answer.
        pushTwice(sim, { message: { ...ivysWelcome, message_id: 9999, from: ivy.user, text: "/help", entities: [{ type: "bot_command", offset: 0, length: 5 }] } as never })
        yield* eventually(sims, "help", () => hasText(sim, 7203, "/settings: choose the model"))
        yield* eventually(sims, "no second help", () => true, "5 seconds")
        assert.strictEqual(countText(sim, 7203, "/settings: choose the model"), 1)

        // One job in flight at most: a second photo is refused while the first runs. (Cancel,
        // offered only while a job waits before KIE, is test/e2e/cancel.test.ts.)
        sims.kie.setFaults({ latencyMs: 1500 })
        ivy.sendPhoto(photoBytes, { caption: "the first" })
        yield* eventually(sims, "first job queued", () => hasText(sim, 7203, "In the queue"))
        ivy.sendPhoto(photoBytes, { caption: "too many" })
        yield* eventually(sims, "in-flight limit", () => hasText(sim, 7203, "You already have a video in progress"))
        sims.kie.resetFaults()
        yield* eventually(sims, "the first video", () => videosTo(sim, 7203).length === 1)
        assert.strictEqual(sims.kie.tasks().filter((t) => JSON.stringify(t.input).includes("too many")).length, 0)
      }))
    }), 120_000)

  it.scoped("/grant works for admins only; help, privacy, terms and paysupport answer", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const jo = user(sims, 7204)
        jo.sendCommand("start")
        yield* eventually(sims, "jo welcomed", () => hasText(sim, 7204, "I turn a photo"))
        const admin = user(sims, ADMIN_ID)
        admin.sendCommand("grant", "7204 5 sorry for the outage")
        yield* eventually(sims, "grant confirmed", () => hasText(sim, ADMIN_ID, "Adjusted user 7204 by +5"))
        admin.sendCommand("grant", "12345 5 nobody")
        yield* eventually(sims, "unknown target", () => hasText(sim, ADMIN_ID, "User 12345 has never used the bot"))
        admin.sendCommand("grant", "oops")
        yield* eventually(sims, "usage", () => hasText(sim, ADMIN_ID, "Usage: /grant"))
        jo.sendCommand("balance")
        yield* eventually(sims, "jo's balance", () => hasText(sim, 7204, "Balance: 5 credits and 2 free"))
        for (const command of ["help", "privacy", "terms", "paysupport"]) jo.sendCommand(command)
        yield* eventually(sims, "pages", () => textsTo(sim, 7204).length === 6)
        const texts = textsTo(sim, 7204)
        assert.isTrue(texts.some((t) => t.startsWith("Privacy:")))
        assert.isTrue(texts.some((t) => t.startsWith("Terms:")))
        assert.isTrue(texts.some((t) => t.startsWith("Support: write your message now")))
      }))
    }), 120_000)
})
