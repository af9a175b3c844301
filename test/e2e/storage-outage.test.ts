/**
 * A photo that arrives while the database refuses work must not be lost: the handler is
 * stopped by a SqlError, the user's entity is restarted by the cluster, and the persisted
 * update is handled again once the database answers. (The chaos test saw 11 of 1,000
 * photos dropped with only a log line before this was so.) The outage is real: the `jobs`
 * table is renamed away, so every statement on it fails, then renamed back. On Postgres:
 * SQLite's rename rewrites the views and keys that name the table, which is not an outage.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Metric } from "effect"
import { updatesRetried } from "../../src/observability/metrics.js"
import { advance } from "../support/job-harness.js"
import { conflictsOn, eventually, hasText, inSystem, photoBytes, pollingSystem, startSystemSimulators, user, videosTo } from "./support.js"

describe("a storage outage during an update (Postgres, polling)", () => {
  it.scoped("the photo is handled again when the database is back: one job, one video, one credit", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("pg")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const ann = user(sims, 7401)
        ann.sendCommand("start")
        yield* eventually(sims, "welcome", () => hasText(sim, 7401, "I turn a photo into a short video"))

        const retriedBefore = (yield* Metric.value(updatesRetried)).count
        yield* sql`ALTER TABLE jobs RENAME TO jobs_unavailable`
        ann.sendPhoto(photoBytes, { caption: "the waves roll in" })
        // The handler fails on the missing table and the update is scheduled again.
        for (let i = 0; i < 60 && (yield* Metric.value(updatesRetried)).count === retriedBefore; i++) {
          yield* advance(sims.kie, "500 millis", "500 millis")
        }
        assert.isAbove((yield* Metric.value(updatesRetried)).count, retriedBefore, "the handler met the outage")
        assert.strictEqual(videosTo(sim, 7401).length, 0)
        const during = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM jobs_unavailable`
        assert.strictEqual(Number(during[0]!.n), 0, "no job while the table is away")

        yield* sql`ALTER TABLE jobs_unavailable RENAME TO jobs`

        yield* eventually(sims, "the video after the outage", () => videosTo(sim, 7401).length === 1)
        yield* eventually(sims, "the job done", () => hasText(sim, 7401, "Done"))
        const jobs = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM jobs WHERE user_id = 7401`
        assert.strictEqual(Number(jobs[0]!.n), 1)
        const ledger = yield* sql<{ kind: string }>`
          SELECT kind FROM credit_ledger WHERE user_id = 7401 AND job_id IS NOT NULL ORDER BY id`
        assert.deepStrictEqual(ledger.map((row) => row.kind), ["reserve", "capture"])
      }))
    }), 240_000)

  // A transient failure (here a serialization failure on every insert of a job) is waited
  // out however long it lasts: it is never set aside as a poisoned update.
  it.scoped("a transient failure that outlasts every retry bound still ends in the video, not in an apology", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("pg")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const bea = user(sims, 7402)
        bea.sendCommand("start")
        yield* eventually(sims, "welcome", () => hasText(sim, 7402, "I turn a photo into a short video"))
        yield* conflictsOn("jobs")
        bea.sendPhoto(photoBytes, { caption: "the waves roll in" })
        // Longer than the patience for unknown failures (about 31 s).
        yield* advance(sims.kie, "40 seconds", "1 second")
        assert.strictEqual(videosTo(sim, 7402).length, 0)
        yield* sql`DROP TRIGGER conflicts_on_jobs ON jobs`
        yield* eventually(sims, "the video after the conflicts", () => videosTo(sim, 7402).length === 1)
        assert.isFalse(hasText(sim, 7402, "Sorry"), "no apology")
        const letters = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM dead_letter_updates`
        assert.strictEqual(Number(letters[0]!.n), 0)
      }))
    }), 240_000)

  // The payments handlers used to log a failure and drop the update: a payment whose row
  // could not be written was credited only by the next reconciliation, if at all.
  it.scoped("a payment that arrives while its row cannot be written is credited once the database answers", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("pg")
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const cy = user(sims, 7403)
        cy.sendCommand("buy")
        yield* eventually(sims, "/buy", () => hasText(sim, 7403, "Buy credits with Telegram Stars"))
        cy.pressButton("Buy 20 credits for 900 ⭐")
        yield* eventually(sims, "the invoice", () => sim.invoices().length === 1)
        yield* conflictsOn("payments")
        const paying = yield* Effect.fork(Effect.promise(() => cy.payInvoice()))
        yield* advance(sims.kie, "10 seconds", "1 second")
        assert.isFalse(hasText(sim, 7403, "Thank you!"))
        yield* sql`DROP TRIGGER conflicts_on_payments ON payments`
        yield* eventually(sims, "the thank-you", () => hasText(sim, 7403, "Thank you!"))
        yield* Fiber.join(paying)
        const credits = yield* sql<{ credits: number }>`SELECT credits FROM balances WHERE user_id = 7403`
        assert.strictEqual(Number(credits[0]!.credits), 20)
      }))
    }), 240_000)
})
