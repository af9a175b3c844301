/**
 * One-tap motion presets, as users meet them: a photo without a caption gets the menu; a
 * tap starts the video at the price the menu showed, once however often it is tapped; a
 * forged button is answered as stale; "own words" explains the caption. BARE_PHOTO=
 * default-prompt keeps the old behaviour.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { messagesFor } from "../../src/i18n/index.js"
import { defaultPrompt } from "../../src/kie/models.js"
import { motionPresetIds, motionPrompts } from "../../src/kie/motion-presets.js"
import { settingsCallbackData } from "../../src/telegram/callback-data.js"
import { dialects } from "../support/database.js"
import { answerOf, botMessages, eventually, hasText, inSystem, photoBytes, pollingSystem, pressForged, startSystemSimulators, user, videosTo } from "./support.js"

const en = messagesFor("en")

interface JobRow {
  readonly prompt: string
  readonly cost: number | string
  readonly duration_seconds: number | string
  readonly request_key: string
}

describe.each(dialects)("motion presets on %s", (dialect) => {
  it.scoped("a bare photo gets the menu; a tap starts one video at the shown price; a second tap and a forged button start nothing", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const jobsOf = (userId: number) =>
          sql<JobRow>`SELECT prompt, cost, duration_seconds, request_key FROM jobs WHERE user_id = ${userId} ORDER BY created_at_ms`
        const ann = user(sims, 7501)
        const photo = ann.sendPhoto(photoBytes).message
        yield* eventually(sims, "preset menu", () => hasText(sim, 7501, "Pick a motion"))
        const menu = botMessages(sim, 7501).find((m) => m.text?.includes("Pick a motion"))!
        const labels = menu.reply_markup!.inline_keyboard.flat().map((b) => b.text)
        assert.deepStrictEqual(labels, [
          ...motionPresetIds.map((preset) => en.presetButton(en.presetName[preset], 1)),
          en.ownWordsButton
        ])
        assert.include(menu.text!, "1 credit with your settings")
        assert.strictEqual((yield* jobsOf(7501)).length, 0)

        // Settings change after the menu was shown: the tap keeps the price on the button.
        const model = sims.settings.kie.model
        ann.sendCommand("settings")
        yield* eventually(sims, "settings menu", () => hasText(sim, 7501, "Choose the model and duration"))
        yield* answerOf(ann.pressButton(settingsCallbackData(model, 10)).answered())
        yield* eventually(sims, "settings saved", () => hasText(sim, 7501, "Saved:"))

        // Two taps before the bot reads either: one job.
        const zoom = ann.pressButton(en.presetButton(en.presetName.zoom, 1), menu)
        const wave = ann.pressButton(en.presetButton(en.presetName.wave, 1), menu)
        const [first, second] = yield* answerOf(Promise.all([zoom.answered(), wave.answered()]))
        assert.strictEqual(first.text, en.presetStarting(en.presetName.zoom))
        assert.strictEqual(second.text, en.presetAlreadyStarted)
        yield* eventually(sims, "the video", () => videosTo(sim, 7501).length === 1)
        const jobs = yield* jobsOf(7501)
        assert.strictEqual(jobs.length, 1)
        assert.deepStrictEqual(
          { prompt: jobs[0]!.prompt, cost: Number(jobs[0]!.cost), duration: Number(jobs[0]!.duration_seconds), key: jobs[0]!.request_key },
          { prompt: motionPrompts.zoom, cost: 1, duration: 5, key: `msg:7501:${photo.message_id}` }
        )
        // The menu became the choice, without buttons.
        const closed = botMessages(sim, 7501).find((m) => m.message_id === menu.message_id)!
        assert.strictEqual(closed.text, en.presetChosen(en.presetName.zoom, 1))
        assert.isUndefined(closed.reply_markup)

        // Another user's photo, and a preset that does not exist: forged data, a clear answer.
        const bob = user(sims, 7502)
        bob.sendCommand("start")
        yield* eventually(sims, "bob's welcome", () => botMessages(sim, 7502).length > 0)
        const forged = (data: string) => pressForged(sim, 7502, data, botMessages(sim, 7502)[0]!)
        const stolen = yield* forged(`pre:${photo.message_id}:smile`)
        assert.strictEqual(stolen.text, en.staleButton)
        assert.isTrue(stolen.showAlert)
        const nonsense = yield* forged(`pre:${photo.message_id}:moonwalk`)
        assert.strictEqual(nonsense.text, en.staleButton)
        assert.strictEqual((yield* jobsOf(7502)).length, 0)

        // "Own words": how to give a caption; no job.
        ann.sendPhoto(photoBytes)
        // Priced with the settings now: 10 s costs 2.
        yield* eventually(sims, "second menu", () => hasText(sim, 7501, "Pick a motion with one tap (2 credits"))
        yield* answerOf(ann.pressButton(en.ownWordsButton).answered())
        yield* eventually(sims, "own words hint", () => hasText(sim, 7501, en.ownWordsHint))
        assert.strictEqual((yield* jobsOf(7501)).length, 1)
        const view = yield* sql<{ bare_photos: number | string; started: number | string; delivered: number | string }>`
          SELECT bare_photos, started, delivered FROM analytics_presets_daily`
        assert.deepStrictEqual(view.map((row) => [Number(row.bare_photos), Number(row.started), Number(row.delivered)]), [[2, 1, 1]])
      }))
    }), 120_000)
})

describe("BARE_PHOTO=default-prompt", () => {
  it.scoped("a bare photo starts a video with the default prompt at once", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite", { env: { BARE_PHOTO: "default-prompt" } })
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        user(sims, 7511).sendPhoto(photoBytes)
        yield* eventually(sims, "the video", () => videosTo(sims.telegram, 7511).length === 1)
        const jobs = yield* sql<{ prompt: string }>`SELECT prompt FROM jobs WHERE user_id = 7511`
        assert.deepStrictEqual(jobs.map((job) => job.prompt), [defaultPrompt])
        assert.isFalse(hasText(sims.telegram, 7511, "Pick a motion"))
      }))
    }), 120_000)
})
