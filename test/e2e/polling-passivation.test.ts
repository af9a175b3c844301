/**
 * Without KIE callbacks a job is polled every 5 to 30 s while KIE generates. Each poll
 * that finds the video still running is done by the job waker (src/jobs/job-waker.ts): the
 * job's entity is not activated for it, so a job that waits minutes holds no entity for
 * most of them. When the video is found, the entity delivers it without asking KIE again.
 */
import { Sharding } from "@effect/cluster"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { advance } from "../support/job-harness.js"
import { eventually, hasText, inSystem, photoBytes, pollingSystem, startSystemSimulators, user, videosTo } from "./support.js"

const recordInfo = "GET /api/v1/jobs/recordInfo"

describe("a job polling KIE (SQLite, no callbacks)", () => {
  it.scoped("is polled without its entity in memory, and its video is delivered after one last poll", () =>
    Effect.gen(function*() {
      // The video is ready after 3 minutes: about ten polls.
      const sims = yield* startSystemSimulators("sqlite", { kie: { phases: { waitingMs: 1_000, queuingMs: 1_000, generatingMs: 178_000 } } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sharding = yield* Sharding.Sharding
        user(sims, 7801).sendPhoto(photoBytes, { caption: "the tide comes in" })
        yield* eventually(sims, "the task", () => sims.kie.tasks().length === 1, "30 seconds")
        yield* eventually(sims, "the progress message", () => hasText(sim, 7801, "Generating your video"), "30 seconds")
        // The user's and the job's entities are reaped once idle (2 and 5 s, at the reaper's 5 s ticks).
        yield* advance(sims.kie, "40 seconds", "1 second")
        const pollsBefore = sims.kie.requestCounts().get(recordInfo) ?? 0
        const activeWhilePolled: Array<number> = []
        for (let i = 0; i < 20; i++) {
          yield* advance(sims.kie, "5 seconds", "1 second")
          activeWhilePolled.push(yield* sharding.activeEntityCount)
        }
        const polled = (sims.kie.requestCounts().get(recordInfo) ?? 0) - pollsBefore
        assert.isAtLeast(polled, 3, "polled while waiting")
        assert.deepStrictEqual(activeWhilePolled.filter((count) => count > 0), [], "no entity in memory while it was polled")
        assert.strictEqual(videosTo(sim, 7801).length, 0)
        yield* eventually(sims, "the video", () => videosTo(sim, 7801).length === 1, "3 minutes")
        // The poll that found the video went with the entity's wake-up: no poll after it.
        const total = sims.kie.requestCounts().get(recordInfo) ?? 0
        yield* advance(sims.kie, "1 minute", "5 seconds")
        assert.strictEqual(sims.kie.requestCounts().get(recordInfo) ?? 0, total, "no poll after the video")
      }))
    }), 120_000)
})
