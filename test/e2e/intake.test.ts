import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import {
  countText,
  eventually,
  freePort,
  hasText,
  inSystem,
  pollingSystem,
  startSystemSimulators,
  user,
  webhookSystem
} from "./support.js"

const SECRET = "webhook-secret-for-tests"

describe("updates in", () => {
  it.scoped("webhook mode: registers the webhook, refuses a wrong secret with 401, handles real deliveries", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const sims = yield* startSystemSimulators("sqlite", {
        env: {
          TELEGRAM_MODE: "webhook",
          TELEGRAM_WEBHOOK_SECRET: SECRET,
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          HTTP_PORT: String(port)
        }
      })
      const sim = sims.telegram
      yield* inSystem(webhookSystem(sims), Effect.gen(function*() {
        yield* eventually(sims, "webhook set", () => sim.callsOf("setWebhook").length > 0)
        assert.strictEqual(sim.callsOf("setWebhook")[0]!.params.url, `http://127.0.0.1:${port}/telegram/webhook`)
        const post = (secret: string | undefined) =>
          Effect.promise(() =>
            fetch(`http://127.0.0.1:${port}/telegram/webhook`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                ...(secret === undefined ? {} : { "x-telegram-bot-api-secret-token": secret })
              },
              body: JSON.stringify({
                update_id: 1,
                message: { message_id: 1, date: 0, chat: { id: 7301, type: "private" }, from: { id: 7301, is_bot: false, first_name: "Kim" }, text: "/start" }
              })
            }).then((r) => r.status)
          )
        assert.strictEqual(yield* post("wrong"), 401)
        assert.strictEqual(yield* post(undefined), 401)

        const kim = user(sims, 7302)
        kim.sendCommand("start")
        yield* eventually(sims, "welcome via webhook", () => hasText(sim, 7302, "I turn a photo"))
        assert.isTrue(sim.deliveries().some((d) => d.via === "webhook"))
        const sql = yield* SqlClient.SqlClient
        const forged = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM users WHERE id = 7301`
        assert.strictEqual(Number(forged[0]!.n), 0)
      }))
    }), 120_000)

  it.scoped("the polling singleton moves to the next runner and resumes from the stored offset (Postgres)", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("pg")
      const sim = sims.telegram
      const lee = user(sims, 7303)

      // Runner A handles two updates, then stops.
      const scopeA = yield* Scope.make()
      const runnerA = yield* Layer.buildWithScope(pollingSystem(sims), scopeA)
      yield* Effect.gen(function*() {
        lee.sendCommand("help")
        lee.sendCommand("balance")
        yield* eventually(sims, "A answered", () => hasText(sim, 7303, "Balance:"))
      }).pipe(Effect.provide(runnerA))
      yield* Scope.close(scopeA, Exit.void)
      // While no runner polls, the user keeps writing.
      lee.sendCommand("terms")
      lee.sendCommand("privacy")
      const deliveriesBefore = sim.deliveries().length

      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        yield* eventually(sims, "B answered", () => hasText(sim, 7303, "Privacy:") && hasText(sim, 7303, "Terms:"))
        yield* eventually(sims, "settle", () => true, "3 seconds")
        const sql = yield* SqlClient.SqlClient
        const offsets = yield* sql<{ next_offset: string | number }>`SELECT next_offset FROM telegram_offsets`
        const ids = sim.deliveries().map((d) => d.update.update_id)
        assert.strictEqual(Number(offsets[0]!.next_offset), Math.max(...ids) + 1)
        // B started from the stored offset: the updates A confirmed were not fetched again.
        const fetchedByB = sim.deliveries().slice(deliveriesBefore).map((d) => d.update.update_id)
        assert.strictEqual(new Set(fetchedByB).size, 2)
      }))
      for (const fragment of ["/settings: choose the model", "Balance:", "Terms:", "Privacy:"]) {
        assert.strictEqual(countText(sim, 7303, fragment), 1, fragment)
      }
    }), 180_000)
})
