import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SimFaults } from "../../src/sim/kie/index.js"
import { advanceUntil } from "../support/job-harness.js"
import {
  ADMIN_ID,
  answerOf,
  botMessages,
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

const ledgerKindsOf = (userId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE user_id = ${userId} ORDER BY id`).pipe(
      Effect.map((rows) => rows.map((row) => row.kind))
    )

describe("failures the user sees (SQLite, polling)", () => {
  it.scoped("a content-policy refusal is explained and refunded; a transient failure offers Try again, which works", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const cat = user(sims, 7101)
        sims.kie.setFaults({ outcomes: [SimFaults.outcomes.contentPolicy] })
        cat.sendPhoto(photoBytes, { caption: "something odd" })
        yield* eventually(sims, "content policy message", () => hasText(sim, 7101, "content policy"))
        const refusal = textsTo(sim, 7101).find((t) => t.includes("content policy"))!
        assert.include(refusal, "Your credit is back on your balance.")
        assert.include(refusal, "Balance: 0 credits and 2 free")
        assert.notInclude(refusal, "Try again")
        assert.deepStrictEqual(yield* ledgerKindsOf(7101), ["free_grant", "reserve", "refund"])

        sims.kie.setFaults({
          outcomes: [SimFaults.outcomes.generationFailed, SimFaults.outcomes.generationFailed, SimFaults.outcomes.generationFailed]
        })
        cat.sendPhoto(photoBytes, { caption: "the sea" })
        yield* eventually(sims, "transient failure message", () =>
          botMessages(sim, 7101).some((m) => JSON.stringify(m.reply_markup ?? {}).includes("Try again")), "5 minutes", "5 seconds")
        sims.kie.resetFaults()
        const failure = botMessages(sim, 7101).find((m) => JSON.stringify(m.reply_markup ?? {}).includes("Try again"))!
        assert.include(failure.text!, "Your credit is back")
        const pressed = cat.pressButton("🔁 Try again", failure)
        assert.strictEqual((yield* answerOf(pressed.answered())).text, "Starting a new video…")
        yield* eventually(sims, "video after Try again", () => videosTo(sim, 7101).length === 1)
        const prompts = sims.kie.tasks().map((task) => JSON.stringify(task.input))
        assert.isTrue(prompts.at(-1)!.includes("the sea"))
      }))
    }), 120_000)

  it.scoped("KIE out of credits: the user reads 'temporarily unavailable', the admin is alerted, the job resumes", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        user(sims, ADMIN_ID)
        const dan = user(sims, 7102)
        sims.kie.setFaults({ createTask: [SimFaults.code(402, "The current credits are insufficient. Please top up.")] })
        dan.sendPhoto(photoBytes, { caption: "the river flows" })
        yield* eventually(sims, "paused progress", () => hasText(sim, 7102, "temporarily unavailable"))
        assert.include(textsTo(sim, 7102).join("\n"), "Your credit is safe")
        yield* eventually(sims, "admin alert", () => hasText(sim, ADMIN_ID, "Operator alert"))
        yield* eventually(sims, "video after KIE is back", () => videosTo(sim, 7102).length === 1, "10 minutes", "5 seconds")
        assert.deepStrictEqual(yield* ledgerKindsOf(7102), ["free_grant", "reserve", "capture"])
      }))
    }), 180_000)

  it.scoped("a user who blocked the bot gets the unit back, and the bot keeps serving others", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const eve = user(sims, 7103)
        eve.sendCommand("start")
        yield* eventually(sims, "welcome", () => hasText(sim, 7103, "I turn a photo"))
        eve.sendPhoto(photoBytes, { caption: "the trees sway" })
        eve.blockBot()
        const sql = yield* SqlClient.SqlClient
        const refunded = yield* advanceUntil(
          sims.kie,
          () => Effect.map(ledgerKindsOf(7103), (kinds) => kinds.includes("refund")),
          "5 minutes",
          "5 seconds"
        )
        assert.isTrue(refunded)
        assert.deepStrictEqual(yield* ledgerKindsOf(7103), ["free_grant", "reserve", "refund"])
        assert.isFalse(botMessages(sim, 7103).some((m) => m.video !== undefined))
        const blocked = yield* sql<{ blocked_at: unknown }>`SELECT blocked_at FROM users WHERE id = 7103`
        assert.isNotNull(blocked[0]!.blocked_at)

        const fay = user(sims, 7104)
        fay.sendCommand("start")
        yield* eventually(sims, "another user served", () => hasText(sim, 7104, "I turn a photo"))
      }))
    }), 180_000)
})
