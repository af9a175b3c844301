import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Metric } from "effect"
import { updatesRetried } from "../../src/observability/metrics.js"
import { advance } from "../support/job-harness.js"
import {
  conflictsOn,
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

const TOO_FAST = "You are sending messages too fast"

describe("the flood limit (SQLite, polling)", () => {
  it.scoped("edited messages count toward it: a user who keeps editing is told to slow down, once", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("sqlite", { env: { FLOOD_LIMIT_PER_MINUTE: "3" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const eve = user(sims, 7701)
        const sent = eve.sendText("a cat")
        yield* eventually(sims, "the hint", () => hasText(sim, 7701, "can't be turned into a video"))
        for (const text of ["a dog", "a bird", "a fish", "a frog"]) eve.editText(sent.message.message_id, text)
        yield* eventually(sims, "the flood warning", () => hasText(sim, 7701, TOO_FAST), "10 seconds")
        // Over the limit, the next message is dropped, and the warning is not repeated.
        const help = eve.sendCommand("help").update!
        yield* eventually(sims, "the /help taken in", () => sim.deliveries().some((d) => d.update.update_id === help.update_id))
        yield* advance(sims.kie, "3 seconds", "1 second")
        assert.isFalse(hasText(sim, 7701, "/settings: choose the model"))
        assert.strictEqual(countText(sim, 7701, TOO_FAST), 1)
      }))
    }), 60_000)
})

describe("the flood limit while an update is handled again (Postgres, polling)", () => {
  // Each handling of the photo used to count: a storage outage long enough pushed the user
  // over the limit, and the photo the bot kept retrying was dropped as flooding.
  it.scoped("an update handled many times counts once: the photo still becomes a video", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators("pg", { env: { FLOOD_LIMIT_PER_MINUTE: "3" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const fay = user(sims, 7702)
        fay.sendCommand("start")
        yield* eventually(sims, "welcome", () => hasText(sim, 7702, "I turn a photo into a short video"))
        yield* conflictsOn("jobs")
        const retriedBefore = (yield* Metric.value(updatesRetried)).count
        fay.sendPhoto(photoBytes, { caption: "the waves roll in" })
        for (let i = 0; i < 120 && (yield* Metric.value(updatesRetried)).count < retriedBefore + 4; i++) {
          yield* advance(sims.kie, "1 second", "1 second")
        }
        assert.isAtLeast((yield* Metric.value(updatesRetried)).count, retriedBefore + 4, "the photo was handled again and again")
        yield* sql`DROP TRIGGER conflicts_on_jobs ON jobs`
        yield* eventually(sims, "the video after the conflicts", () => videosTo(sim, 7702).length === 1)
        assert.isFalse(hasText(sim, 7702, TOO_FAST), "no flood warning for one photo")
      }))
    }), 120_000)
})
