/**
 * Operators' commands (/grant, /refund, /stats) from a user who is not in ADMIN_IDS: they
 * do not exist for that user (the unknown-command answer, nothing else), change no money and
 * reveal nothing. The admin's own use of the same commands is the control.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { messagesFor } from "../../src/i18n/index.js"
import { ADMIN_ID, eventually, hasText, inSystem, pollingSystem, startSystemSimulators, textsTo, user } from "../e2e/support.js"

const MALLORY = 7401

describe("admin commands", () => {
  it.scoped("from a non-admin are refused as unknown, change nothing and reveal nothing", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const mallory = user(sims, MALLORY)
        mallory.sendCommand("start")
        yield* eventually(sims, "mallory welcomed", () => hasText(sim, MALLORY, "I turn a photo"))
        const before = textsTo(sim, MALLORY).length

        const attempts: ReadonlyArray<readonly [string, string]> = [
          ["grant", `${MALLORY} 100 free money`],
          ["grant", `${ADMIN_ID} -1 spite`],
          ["grant", "oops"],
          ["refund", "stx-some-charge"],
          ["refund", ""],
          ["stats", ""]
        ]
        for (const [command, args] of attempts) mallory.sendCommand(command, args)
        yield* eventually(sims, "every attempt answered", () => textsTo(sim, MALLORY).length === before + attempts.length)
        assert.deepStrictEqual(
          textsTo(sim, MALLORY).slice(before),
          attempts.map(() => messagesFor("en").unknownCommand)
        )

        const sql = yield* SqlClient.SqlClient
        const adjustments = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM credit_ledger WHERE kind = 'adjust'`
        assert.strictEqual(Number(adjustments[0]!.n), 0)
        assert.strictEqual(sim.callsOf("refundStarPayment").length, 0)
        mallory.sendCommand("balance")
        yield* eventually(sims, "mallory's balance", () => hasText(sim, MALLORY, "Balance: 0 credits and 2 free"))

        // The control: for the admin the same commands exist.
        const admin = user(sims, ADMIN_ID)
        admin.sendCommand("grant", "oops")
        yield* eventually(sims, "grant usage for the admin", () => hasText(sim, ADMIN_ID, "Usage: /grant"))
        admin.sendCommand("refund", "")
        yield* eventually(sims, "refund usage for the admin", () => hasText(sim, ADMIN_ID, "Usage: /refund"))
        admin.sendCommand("grant", `${MALLORY} 1 goodwill`)
        yield* eventually(sims, "grant done", () => hasText(sim, ADMIN_ID, `Adjusted user ${MALLORY} by +1`))
      }))
    }), 120_000)
})
