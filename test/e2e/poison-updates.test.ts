/**
 * Poison updates end, they do not loop. U+0000 is fine in SQLite text and refused by
 * Postgres ("invalid byte sequence", 22021): in a caption, a message or a user's name it
 * made every handling of the update fail, and the user's entity restarted for ever. A
 * handler that keeps failing the same way (here: a trigger that refuses one prompt, on both
 * dialects a constraint-class error) is retried a few times, then set aside with an apology,
 * and the user's next update is answered at once.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Metric } from "effect"
import { updatesSetAside } from "../../src/observability/metrics.js"
import { messagesFor } from "../../src/i18n/index.js"
import { updateRetry } from "../../src/telegram/update-failures.js"
import { dialects, refuseRows } from "../support/database.js"
import {
  ADMIN_ID,
  countText,
  eventually,
  hasText,
  inSystem,
  photoBytes,
  pollingSystem,
  startSystemSimulators,
  user,
  videosTo
} from "./support.js"

const HINT = "Please send me a photo (or an image file)"
const POISON = "poison pill"

const setAsideCount = Effect.map(
  Metric.value(Metric.tagged(updatesSetAside, "failure_class", "deterministic")),
  (state) => state.count
)

describe.each(dialects)("poison updates on %s", (dialect) => {
  it.scoped("U+0000 is cleaned at the edge; a handler that keeps failing is set aside, and the next /start is answered", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient

        // U+0000 in a user's name and text, then in a caption.
        const zoe = sim.createUser({ id: 7501, first_name: "Zo\u0000e", language_code: "en" })
        zoe.sendText("hello\u0000world")
        yield* eventually(sims, "the hint", () => hasText(sim, 7501, HINT), "20 seconds")
        zoe.sendPhoto(photoBytes, { caption: "the waves\u0000 roll in" })
        yield* eventually(sims, "the video", () => videosTo(sim, 7501).length === 1)
        const jobs = yield* sql<{ prompt: string }>`SELECT prompt FROM jobs WHERE user_id = 7501`
        assert.deepStrictEqual(jobs.map((job) => job.prompt), ["the waves roll in"])
        assert.strictEqual(sims.kie.tasks()[0]!.input.prompt, "the waves roll in")
        const names = yield* sql<{ first_name: string }>`SELECT first_name FROM users WHERE id = 7501`
        assert.strictEqual(names[0]!.first_name, "Zoe")

        // Numbers an admin types are range-checked; a note with U+0000 is cleaned.
        const admin = user(sims, ADMIN_ID)
        admin.sendCommand("grant", "7501 9999999999 a typo")
        yield* eventually(sims, "the refused grant", () => hasText(sim, ADMIN_ID, "Refused: one /grant moves at most"), "20 seconds")
        admin.sendCommand("grant", "7501 5 goodwill\u0000")
        yield* eventually(sims, "the grant", () => hasText(sim, ADMIN_ID, "Adjusted user 7501 by +5"), "20 seconds")
        const adjustments = yield* sql<{ delta_credits: number; note: string }>`
          SELECT delta_credits, note FROM credit_ledger WHERE user_id = 7501 AND kind = 'adjust'`
        assert.deepStrictEqual(adjustments.map((row) => [Number(row.delta_credits), row.note]), [[5, "goodwill"]])

        // A handler that fails the same way every time.
        yield* refuseRows("refuse_poison", "INSERT", "jobs", `NEW.prompt = '${POISON}'`)
        const ivan = user(sims, 7502, "ru")
        ivan.sendCommand("start")
        yield* eventually(sims, "ivan welcomed", () => countText(sim, 7502, "Привет") === 1, "20 seconds")
        const setAsideBefore = yield* setAsideCount
        const sentAt = yield* Clock.currentTimeMillis
        ivan.sendPhoto(photoBytes, { caption: POISON })
        ivan.sendCommand("start")
        yield* eventually(sims, "the apology", () => hasText(sim, 7502, messagesFor("ru").updateSetAside), "20 seconds", "250 millis")
        yield* eventually(sims, "the next /start", () => countText(sim, 7502, "Привет") === 2, "20 seconds", "250 millis")
        // The retries take 0.75 s of the clock; the rest is the simulators' real I/O while it moves.
        const answeredAfterMs = (yield* Clock.currentTimeMillis) - sentAt
        assert.isAtMost(answeredAfterMs, 10_000, "the /start after the poison is answered within a few seconds")

        assert.strictEqual((yield* setAsideCount) - setAsideBefore, 1)
        const letters = yield* sql<{
          update_kind: string
          failure_class: string
          error_code: string
          attempts: number
          detail: string
          payload: string
        }>`SELECT update_kind, failure_class, error_code, attempts, detail, payload FROM dead_letter_updates WHERE user_id = 7502`
        assert.strictEqual(letters.length, 1)
        const letter = letters[0]!
        assert.strictEqual(letter.update_kind, "message")
        assert.strictEqual(letter.failure_class, "deterministic")
        assert.strictEqual(letter.error_code, dialect === "pg" ? "23514" : "SQLITE_CONSTRAINT_TRIGGER")
        assert.strictEqual(Number(letter.attempts), updateRetry.deterministic.attempts)
        assert.include(JSON.parse(letter.payload).message.caption, POISON)
        const ivansJobs = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM jobs WHERE user_id = 7502`
        assert.strictEqual(Number(ivansJobs[0]!.n), 0)
        const ledger = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE user_id = 7502 ORDER BY id`
        assert.deepStrictEqual(ledger.map((row) => row.kind), ["free_grant"], "no unit reserved for the poison")
        // The entity's copy of the balance was not left behind by the rolled-back reservations.
        ivan.sendCommand("balance")
        yield* eventually(sims, "ivan's balance", () => hasText(sim, 7502, "Баланс: 0 кредитов и 2 бесплатных"), "20 seconds")
      }))
    }), 180_000)
})
