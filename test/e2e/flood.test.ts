import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { advance } from "../support/job-harness.js"
import { countText, eventually, hasText, inSystem, pollingSystem, startSystemSimulators, user } from "./support.js"

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
