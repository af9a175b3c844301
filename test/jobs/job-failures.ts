import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { JobEntity } from "../../src/protocols/job-protocol.js"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { Balance } from "../../src/domain/balance.js"
import type { JobId } from "../../src/domain/ids.js"
import { SimFaults } from "../../src/sim/kie/index.js"
import type { Dialect } from "../support/database.js"
import {
  advance,
  advanceUntil,
  realPause,
  sendPhotoAndStart,
  type Simulators,
  startSimulators,
  withTicks,
  inRunner,
  quickGeneration,
  reaches,
  stateOf
} from "../support/job-harness.js"

const balanceOf = (userId: number) => Effect.flatMap(UserEntity.client, (users) => withTicks(users(String(userId)).GetBalance()))
const ledgerKinds = (jobId: JobId) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE job_id = ${jobId} ORDER BY id`)
    .pipe(Effect.map((rows) => rows.map((row) => row.kind)))
const lastTextTo = (sims: Simulators, chatId: number) =>
  sims.telegram.callsOf("sendMessage").filter((call) => Number(call.params.chat_id) === chatId).map((call) => call.params).at(-1)

/** The failure suite for one database; each dialect runs it from its own file, in parallel. */
export const jobFailureSuite = (dialect: Dialect) => describe(`JobEntity failures on ${dialect}`, () => {
  it.scoped("a content-policy failure is refunded at once, explained, with no retry button", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      sims.kie.setFaults({ outcomes: [SimFaults.outcomes.contentPolicy] })
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 6001)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "refunded"), "6 minutes"))
        assert.strictEqual(sims.kie.tasks().length, 1)
        const message = lastTextTo(sims, 6001)!
        assert.include(String(message.text), "content policy")
        assert.include(String(message.text), "Your credit is back")
        assert.notInclude(JSON.stringify(message.reply_markup ?? {}), "again:")
        assert.deepStrictEqual(yield* ledgerKinds(started.jobId), ["reserve", "refund"])
        assert.deepStrictEqual(yield* balanceOf(6001), new Balance({ credits: 0, freeTokens: 2 }))
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, 0)
      }))
    }), 120_000)

  it.scoped("a generation failure that is not the user's fault is resubmitted once, then delivered", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      sims.kie.setFaults({ outcomes: [SimFaults.outcomes.generationFailed, SimFaults.outcomes.success] })
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 6002)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "12 minutes", "10 seconds"))
        assert.strictEqual(sims.kie.tasks().length, 2)
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, 1)
        assert.deepStrictEqual(yield* ledgerKinds(started.jobId), ["reserve", "capture"])
        const sql = yield* SqlClient.SqlClient
        const events = yield* sql<{ to_state: string }>`SELECT to_state FROM job_events WHERE job_id = ${started.jobId} ORDER BY id`
        assert.deepStrictEqual(events.map((row) => row.to_state), [
          "queued", "submitting", "polling", "submitting", "polling", "delivering", "delivered"
        ])
      }))
    }), 120_000)

  it.scoped("two failed generations are refunded with a Try again button", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      sims.kie.setFaults({ outcomes: [SimFaults.outcomes.generationFailed, SimFaults.outcomes.generationFailed] })
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 6003)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "refunded"), "12 minutes", "10 seconds"))
        assert.strictEqual(sims.kie.tasks().length, 2)
        const message = lastTextTo(sims, 6003)!
        assert.include(String(message.text), "Your credit is back")
        assert.include(JSON.stringify(message.reply_markup), `again:${started.jobId}`)
        assert.deepStrictEqual(yield* balanceOf(6003), new Balance({ credits: 0, freeTokens: 2 }))
      }))
    }), 120_000)

  it.scoped("an account out of KIE credits pauses the job in the queue until a probe succeeds", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      sims.kie.setFaults({ createTask: [SimFaults.code(402, "The current credits are insufficient. Please top up.")] })
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 6004)
        yield* advance(sims.kie, "10 seconds")
        assert.strictEqual(yield* stateOf(started.jobId), "queued")
        assert.isTrue(
          sims.telegram.callsOf("editMessageText").some((call) => String(call.params.text).includes("temporarily unavailable"))
        )
        assert.strictEqual(sims.kie.tasks().length, 0)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "8 minutes"))
        assert.strictEqual(sims.kie.tasks().length, 1)
        assert.deepStrictEqual(yield* ledgerKinds(started.jobId), ["reserve", "capture"])
      }))
    }), 120_000)

  it.scoped("an operator error about this request alone is refunded, not resubmitted in a loop", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      sims.kie.setFaults({ createTask: [SimFaults.code(422, "input.aspect_ratio: This field is required")] })
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 6012)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "refunded"), "2 minutes"))
        assert.strictEqual(sims.kie.createAttempts().length, 1)
        assert.include(String(lastTextTo(sims, 6012)!.text), "Your credit is back")
        assert.deepStrictEqual(yield* ledgerKinds(started.jobId), ["reserve", "refund"])
      }))
    }), 120_000)

  it.scoped("a task that outlives its model's deadline is refunded, and its late result is not delivered", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      sims.kie.setFaults({ outcomes: [SimFaults.outcomes.stuck] })
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 6005, { model: "wan/2-5-image-to-video" })
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "refunded"), "17 minutes", "30 seconds"))
        assert.include(String(lastTextTo(sims, 6005)!.text), "took far longer")
        const jobs = yield* JobEntity.client
        yield* withTicks(jobs(started.jobId).KieCallback({ jobId: started.jobId, taskId: sims.kie.tasks()[0]!.taskId }))
        yield* advance(sims.kie, "30 seconds")
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, 0)
        assert.deepStrictEqual(yield* ledgerKinds(started.jobId), ["reserve", "refund"])
      }))
    }), 300_000)

  it.scoped("a callback ends the wait at once, and callbacks before, during and after polling deliver once", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 6006)
        const jobs = yield* JobEntity.client
        yield* advanceUntil(sims.kie, reaches(started.jobId, "polling"), "1 minute", "1 second")
        const taskId = sims.kie.tasks()[0]!.taskId
        yield* withTicks(jobs(started.jobId).KieCallback({ jobId: started.jobId, taskId: `${taskId}-early` }))
        // KIE finishes; only KIE's clock moves, so nothing but the callback can wake the job.
        yield* Effect.promise(() => sims.kie.advance(300_000))
        yield* withTicks(jobs(started.jobId).KieCallback({ jobId: started.jobId, taskId }))
        for (let i = 0; i < 100 && (yield* stateOf(started.jobId)) !== "delivered"; i++) yield* realPause(20)
        assert.strictEqual(yield* stateOf(started.jobId), "delivered")
        yield* withTicks(jobs(started.jobId).KieCallback({ jobId: started.jobId, taskId: `${taskId}-late` }))
        yield* advance(sims.kie, "1 minute")
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, 1)
      }))
    }), 120_000)

  it.scoped("delivery honours retry_after, and a 403 from a blocked user refunds without further sends", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      yield* inRunner(sims, Effect.gen(function*() {
        sims.telegram.injectFault({ kind: "retry_after", retryAfter: 3, method: "sendVideo", times: 1 })
        const first = yield* sendPhotoAndStart(sims, 6007)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(first.jobId, "delivered"), "6 minutes"))
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, 2)

        const second = yield* sendPhotoAndStart(sims, 6008)
        yield* advanceUntil(sims.kie, reaches(second.jobId, "polling"), "1 minute", "1 second")
        sims.telegram.user(6008).blockBot()
        const callsBefore = sims.telegram.calls.all().length
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(second.jobId, "refunded"), "6 minutes", "10 seconds"))
        assert.strictEqual(sims.telegram.callsOf("sendVideo").filter((call) => Number(call.params.chat_id) === 6008).length, 1)
        const after = sims.telegram.calls.all().slice(callsBefore).filter((call) => call.method !== "sendChatAction")
        assert.isAtMost(after.filter((call) => call.method === "sendMessage").length, 0)
        assert.deepStrictEqual(yield* ledgerKinds(second.jobId), ["reserve", "refund"])
      }))
    }), 120_000)

  it.scoped("a video that cannot be sent after the delivery budget is refunded with an explanation", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      sims.telegram.injectFault({ kind: "server_error", method: "sendVideo" })
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 6009)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "refunded"), "8 minutes", "5 seconds"))
        assert.isAtLeast(sims.telegram.callsOf("sendVideo").length, 5)
        assert.include(String(lastTextTo(sims, 6009)!.text), "could not send it")
        assert.deepStrictEqual(yield* ledgerKinds(started.jobId), ["reserve", "refund"])
      }))
    }), 120_000)

  it.scoped("the same request twice makes one job and one KIE task; Cancel before KIE refunds", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, quickGeneration)
      yield* inRunner(sims, Effect.gen(function*() {
        const first = yield* sendPhotoAndStart(sims, 6010, { requestKey: "6010:1" })
        const again = yield* sendPhotoAndStart(sims, 6010, { requestKey: "6010:1" })
        assert.strictEqual(again.jobId, first.jobId)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(first.jobId, "delivered"), "6 minutes"))
        assert.strictEqual(sims.kie.tasks().length, 1)

        sims.kie.setFaults({ upload: [SimFaults.hang] })
        const cancelled = yield* sendPhotoAndStart(sims, 6010, { requestKey: "6010:2" })
        const jobs = yield* JobEntity.client
        assert.strictEqual(yield* withTicks(jobs(cancelled.jobId).Cancel({ jobId: cancelled.jobId, userId: 6011 as never, requestKey: "press-1" })), "not-found")
        assert.strictEqual(yield* withTicks(jobs(cancelled.jobId).Cancel({ jobId: cancelled.jobId, userId: 6010 as never, requestKey: "press-2" })), "cancelled")
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(cancelled.jobId, "refunded"), "1 minute", "1 second"))
        assert.include(String(lastTextTo(sims, 6010)!.text), "Cancelled")
        assert.strictEqual(sims.kie.tasks().length, 1)
        assert.deepStrictEqual(yield* balanceOf(6010), new Balance({ credits: 0, freeTokens: 1 }))
      }))
    }), 120_000)
})
