import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  answerOf,
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
} from "./support.js"

describe("the user's journey (SQLite, polling)", () => {
  it.scoped("a new user gets 2 free videos, then 'not enough credits' with the price list and a buy button", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const ann = user(sims, 7001)
        ann.sendCommand("start")
        yield* eventually(sims, "welcome", () => hasText(sim, 7001, "I turn a photo into a short video"))
        assert.include(textsTo(sim, 7001)[0]!, "You get 2 free credits to start")
        assert.include(textsTo(sim, 7001)[0]!, "Balance: 0 credits and 2 free")

        ann.sendPhoto(photoBytes, { caption: "the waves roll in" })
        yield* eventually(sims, "first video", () => videosTo(sim, 7001).length === 1)
        ann.sendPhoto(photoBytes, { caption: "the clouds drift" })
        yield* eventually(sims, "second video", () => videosTo(sim, 7001).length === 2)
        assert.include(String(videosTo(sim, 7001)[1]!.params.caption), "Balance: 0 credits")

        ann.sendPhoto(photoBytes, { caption: "one more" })
        yield* eventually(sims, "price list", () => hasText(sim, 7001, "You don't have enough credits"))
        const priceList = botMessages(sim, 7001).find((m) => m.text?.includes("enough credits"))!
        assert.include(priceList.text!, "• 5 credits: 250 ⭐")
        assert.include(priceList.text!, "• 20 credits: 900 ⭐")
        const pressed = ann.pressButton("Buy 5 credits for 250 ⭐", priceList)
        yield* answerOf(pressed.answered())
        yield* eventually(sims, "invoice", () => sim.invoices().some((i) => i.chatId === 7001 && i.total_amount === 250))

        // One progress message per job, sent by the job; the handler added none.
        assert.strictEqual(countText(sim, 7001, "In the queue") + countText(sim, 7001, "Done"), 2)
        ann.sendCommand("balance")
        yield* eventually(sims, "balance", () => hasText(sim, 7001, "s) costs 1 credit."))
        ann.sendCommand("history")
        yield* eventually(sims, "history", () => hasText(sim, 7001, "Your last videos:"))
        const history = textsTo(sim, 7001).find((t) => t.startsWith("Your last videos:"))!
        assert.strictEqual(history.split("\n").filter((line) => line.includes("✅ delivered")).length, 2)

        // A returning user is not granted again.
        ann.sendCommand("start")
        yield* eventually(sims, "second welcome", () => countText(sim, 7001, "I turn a photo") === 2)
        assert.notInclude(textsTo(sim, 7001).filter((t) => t.includes("I turn a photo"))[1]!, "free")
        const sql = yield* SqlClient.SqlClient
        const grants = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM credit_ledger WHERE user_id = 7001 AND kind = 'free_grant'`
        assert.strictEqual(Number(grants[0]!.n), 1)
      }))
    }), 120_000)

  it.scoped("Generate again makes a new video from the same photo and prompt; a double tap starts one job", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite", { env: { FREE_TOKENS: "3" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const bob = user(sims, 7002)
        bob.sendPhoto(photoBytes, { caption: "the leaves fall" })
        yield* eventually(sims, "first video", () => videosTo(sim, 7002).length === 1)
        const video = botMessages(sim, 7002).find((m) => m.video !== undefined)!
        const first = bob.pressButton("🔁 Generate again", video)
        const second = bob.pressButton("🔁 Generate again", video)
        const answers = yield* answerOf(Promise.all([first.answered(), second.answered()]))
        assert.deepStrictEqual(answers.map((a) => a.text), ["Starting a new video…", "Already started, one moment."])
        yield* eventually(sims, "second video", () => videosTo(sim, 7002).length === 2)
        const tasks = sims.kie.tasks()
        assert.strictEqual(tasks.length, 2)
        assert.strictEqual(JSON.stringify(tasks[1]!.input).includes("the leaves fall"), true)
        const sql = yield* SqlClient.SqlClient
        const jobs = yield* sql<{ photo_file_id: string; prompt: string }>`SELECT photo_file_id, prompt FROM jobs WHERE user_id = 7002`
        assert.strictEqual(jobs.length, 2)
        assert.strictEqual(jobs[0]!.photo_file_id, jobs[1]!.photo_file_id)
        assert.strictEqual(jobs[0]!.prompt, jobs[1]!.prompt)
      }))
    }), 120_000)
})
