/**
 * With PUBLIC_URL set, KIE calls back when a task ends and polling is only the safety net
 * for a lost callback: a minute before the first poll, then minutes
 * apart. These runs count what reached the KIE simulator, so a return to the fast polling
 * cadence (12 polls for a 4-minute generation) fails them.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { callbackGraceMs } from "../../src/jobs/job-policy.js"
import { type KieSimOptions, SimFaults } from "../../src/sim/kie/index.js"
import { advance, advanceUntil } from "../support/job-harness.js"
import {
  eventually,
  freePort,
  inSystem,
  photoBytes,
  startSystemSimulators,
  user,
  videosTo,
  webhookSystem
} from "./support.js"

const recordInfo = "GET /api/v1/jobs/recordInfo"

const withCallbacks = (kie: KieSimOptions) =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    return yield* startSystemSimulators("sqlite", {
      kie,
      env: {
        TELEGRAM_MODE: "webhook",
        TELEGRAM_WEBHOOK_SECRET: "webhook-secret-for-tests",
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        HTTP_PORT: String(port),
        KIE_CALLBACK_SECRET: "callback-secret-for-tests"
      }
    })
  })

describe("KIE callbacks on (PUBLIC_URL set)", () => {
  it.scoped("a 4-minute generation is polled at most 3 times, and the callback brings the video at once", () =>
    Effect.gen(function*() {
      const sims = yield* withCallbacks({ phases: { waitingMs: 10_000, queuingMs: 10_000, generatingMs: 220_000 } })
      yield* inSystem(webhookSystem(sims), Effect.gen(function*() {
        user(sims, 7401).sendPhoto(photoBytes, { caption: "the tide comes in" })
        yield* eventually(sims, "task created", () => sims.kie.tasks().length === 1, "1 minute")
        // Five-second steps: the polls fall on their timers whatever the step, and a minute
        // of one-second steps costs seconds of real time.
        yield* eventually(sims, "KIE calls back", () => sims.kie.callbacks().length === 1, "5 minutes", "5 seconds")
        const calledBackAt = yield* TestClock.currentTimeMillis
        yield* eventually(sims, "video", () => videosTo(sims.telegram, 7401).length === 1, "1 minute")
        // The wait ended with the callback, not with the next safety poll (minutes away).
        assert.isAtMost((yield* TestClock.currentTimeMillis) - calledBackAt, 5_000)
        assert.strictEqual(sims.kie.callbacks()[0]!.status, 200)
        // Safety polls at 1 and 3 minutes, and one after the callback's wake-up.
        const polls = sims.kie.requestCounts().get(recordInfo) ?? 0
        assert.isAtLeast(polls, 1)
        assert.isAtMost(polls, 3)
      }))
    }), 120_000)

  it.scoped("the poll after the callback fails (429): polled again 5 s later, not minutes later, and delivered", () =>
    Effect.gen(function*() {
      const sims = yield* withCallbacks({ phases: { waitingMs: 2_000, queuingMs: 3_000, generatingMs: 20_000 } })
      sims.kie.setFaults({ recordInfo: [SimFaults.code(429, "Rate limited")] })
      yield* inSystem(webhookSystem(sims), Effect.gen(function*() {
        user(sims, 7403).sendPhoto(photoBytes, { caption: "the sun sets" })
        yield* eventually(sims, "KIE calls back", () => sims.kie.callbacks().length === 1, "2 minutes")
        const calledBackAt = yield* TestClock.currentTimeMillis
        yield* eventually(sims, "video", () => videosTo(sims.telegram, 7403).length === 1, "2 minutes")
        const waited = (yield* TestClock.currentTimeMillis) - calledBackAt
        assert.isAtLeast(waited, 4_000)
        assert.isAtMost(waited, 10_000)
        assert.strictEqual(sims.kie.requestCounts().get(recordInfo), 2)
      }))
    }), 120_000)

  it.scoped("a lost callback and a failing last poll at the deadline: asked again 5 s later, the video is delivered, not refunded", () =>
    Effect.gen(function*() {
      const sims = yield* withCallbacks({ phases: { waitingMs: 2_000, queuingMs: 3_000, generatingMs: 20_000 } })
      sims.kie.setFaults({ callbacks: "lose", recordInfo: [SimFaults.code(429, "Rate limited")] })
      // The deadline (40 s) comes before the first safety-net poll (60 s).
      yield* inSystem(webhookSystem({ ...sims, settings: { ...sims.settings, jobs: { ...sims.settings.jobs, taskDeadlineMs: Option.some(40_000) } } }), Effect.gen(function*() {
        user(sims, 7404).sendPhoto(photoBytes, { caption: "the moon rises" })
        yield* eventually(sims, "video", () => videosTo(sims.telegram, 7404).length === 1, "3 minutes")
        assert.strictEqual(sims.kie.requestCounts().get(recordInfo), 2)
        assert.isFalse(sims.telegram.calls.all().some((c) => String(c.params.text ?? "").includes("That did not work")))
      }))
    }), 120_000)

  // A runner killed after answering KIE and before the job's run wrote anything left the
  // job to its next safety poll (seen in the broadcast failover run: three videos a minute
  // late). Here the run after the callback hangs in its poll, and so has written nothing.
  it.scoped("a callback is in the job's row before KIE is answered: due within the grace, though its run has written nothing", () =>
    Effect.gen(function*() {
      const sims = yield* withCallbacks({ phases: { waitingMs: 2_000, queuingMs: 3_000, generatingMs: 20_000 } })
      sims.kie.setFaults({ recordInfo: [SimFaults.hang] })
      yield* inSystem(webhookSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const job = sql<{ state: string; due_at_ms: number | string }>`SELECT state, due_at_ms FROM jobs`
        const dueIn = Effect.gen(function*() {
          const rows = yield* job
          assert.strictEqual(rows.length, 1)
          assert.strictEqual(rows[0]!.state, "polling")
          return Number(rows[0]!.due_at_ms) - (yield* TestClock.currentTimeMillis)
        })
        user(sims, 7405).sendPhoto(photoBytes, { caption: "the snow falls" })
        const polling = () => Effect.map(job, (rows) => rows[0]?.state === "polling")
        assert.isTrue(yield* advanceUntil(sims.kie, polling, "1 minute", "1 second"))
        assert.isAbove(yield* dueIn, 30_000, "the first safety poll is about a minute away")

        yield* eventually(sims, "KIE calls back", () => sims.kie.callbacks().length === 1, "2 minutes")
        assert.strictEqual(sims.kie.callbacks()[0]!.status, 200)
        const due = yield* dueIn
        assert.isAtMost(due, callbackGraceMs)
        assert.isAbove(due, 0)
        assert.strictEqual(sims.kie.requestCounts().get(recordInfo), 1, "the callback's run is in its poll")

        // From there the job goes on, and is delivered once.
        yield* eventually(sims, "video", () => videosTo(sims.telegram, 7405).length === 1, "2 minutes")
        yield* advance(sims.kie, "10 seconds", "1 second")
        assert.strictEqual(videosTo(sims.telegram, 7405).length, 1)
      }))
    }), 120_000)

  it.scoped("a lost callback: the safety-net poll a minute after createTask finds the video", () =>
    Effect.gen(function*() {
      const sims = yield* withCallbacks({ phases: { waitingMs: 2_000, queuingMs: 3_000, generatingMs: 20_000 } })
      sims.kie.setFaults({ callbacks: "lose" })
      yield* inSystem(webhookSystem(sims), Effect.gen(function*() {
        user(sims, 7402).sendPhoto(photoBytes, { caption: "the wind rises" })
        yield* eventually(sims, "task created", () => sims.kie.tasks().length === 1, "1 minute")
        const createdAt = yield* TestClock.currentTimeMillis
        yield* eventually(sims, "video", () => videosTo(sims.telegram, 7402).length === 1, "3 minutes")
        const waited = (yield* TestClock.currentTimeMillis) - createdAt
        // KIE finished after 25 s; nobody knew until the poll at one minute.
        assert.isAtLeast(waited, 55_000)
        assert.isAtMost(waited, 70_000)
        assert.strictEqual(sims.kie.requestCounts().get(recordInfo), 1)
      }))
    }), 120_000)
})
