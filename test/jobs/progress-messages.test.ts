/**
 * Progress messages that wait for Telegram's budget wait as entries of the runner's heap
 * (src/jobs/job-acknowledgement.ts), counted by `telegram_progress_messages_waiting`, and
 * a few posters (`progressPosters`) carry them into the line oldest photo first.
 */
import { ClusterMetrics } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { progressMessagesWaiting, progressPosters } from "../../src/jobs/job-acknowledgement.js"
import { videoDeferral } from "../../src/jobs/job-policy.js"
import { slotSeekers } from "../../src/telegram/outgoing-limits.js"
import { advance, inRunner, quickGeneration, sendPhotoAndStart, startSimulators } from "../support/job-harness.js"

const waitingMessages = Effect.map(Metric.value(progressMessagesWaiting), (state) => Number(state.value))
const jobEntities = Effect.map(Metric.value(ClusterMetrics.entities.pipe(Metric.tagged("type", "Job"))), (state) => Number(state.value))
/** Jobs delivering, and of those the ones waiting as their due time (no lease: no step under way). */
const delivering = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ readonly n: number; readonly deferred: number }>`
    SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN leased_at_ms IS NULL AND due_at_ms IS NOT NULL THEN 1 ELSE 0 END), 0) AS deferred
    FROM jobs WHERE state = 'delivering'`).pipe(
    Effect.map((rows) => ({ all: Number(rows[0]?.n ?? 0), deferred: Number(rows[0]?.deferred ?? 0) })),
    Effect.orDie
  )

const QUEUED = "In the queue"

describe("progress messages under Telegram's budget", () => {
  it.scoped("at 2 messages/s, the answers to more photos than there are posters wait, counted, then go out two a second, oldest photo first, each once", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators("sqlite", { ...quickGeneration, env: { TELEGRAM_MESSAGES_PER_SECOND: "2" } })
      yield* inRunner(sims, Effect.gen(function*() {
        const userIds = Array.from({ length: progressPosters + 8 }, (_, i) => 6601 + i)
        let most = 0
        // One after the other: each admission's time (its place in line) is later than the one before.
        for (const userId of userIds) {
          yield* sendPhotoAndStart(sims, userId)
          most = Math.max(most, yield* waitingMessages)
        }
        const answers = () =>
          sims.telegram.callsOf("sendMessage")
            .filter((call) => String(call.params.text ?? "").includes(QUEUED))
            .map((call) => Number(call.params.chat_id))
        const answeredDuringStarts = answers().length
        let seconds = 0
        for (; seconds < 60 && answers().length < userIds.length; seconds++) {
          yield* advance(sims.kie, "1 second", "1 second")
          most = Math.max(most, yield* waitingMessages)
        }
        // More answers waited than there are posters: the others waited in the heap.
        assert.isAbove(most, progressPosters)
        // Two a second: the ones not answered while the photos came took that long.
        assert.isAtLeast(seconds, Math.floor((userIds.length - answeredDuringStarts) / 2) - 1)
        const order = answers()
        assert.deepStrictEqual([...order].sort(), [...userIds].sort(), "each user's photo is answered once")
        // The first few in line look for free slots together (src/telegram/outgoing-limits.ts):
        // their first tries may pass one another, nothing more.
        order.forEach((chatId, i) => assert.isBelow(userIds.indexOf(chatId), i + slotSeekers, `answer ${i} went to ${chatId}`))
        assert.strictEqual(yield* waitingMessages, 0)
      }))
    }), 90_000)

  it.scoped("a video ready while many answers wait for the budget waits without its job's entity, then comes after its user's answer", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators("sqlite", {
        kie: { phases: { waitingMs: 1_000, queuingMs: 1_000, generatingMs: 3_000 } },
        env: { TELEGRAM_MESSAGES_PER_SECOND: "1" }
      })
      yield* inRunner(sims, Effect.gen(function*() {
        // More answers than 60 s of the budget are still waiting when the first videos are ready.
        const userIds = Array.from({ length: 120 }, (_, i) => 6701 + i)
        for (const userId of userIds) yield* sendPhotoAndStart(sims, userId)
        const videos = () => sims.telegram.callsOf("sendVideo").map((call) => Number(call.params.chat_id))
        // Jobs whose video waits, against the job entities in memory.
        let deferred = 0
        let waitingWithoutEntity = 0
        for (let seconds = 0; seconds < 240 && videos().length < userIds.length; seconds++) {
          yield* advance(sims.kie, "1 second", "1 second")
          const waiting = yield* delivering
          deferred = Math.max(deferred, waiting.deferred)
          waitingWithoutEntity = Math.max(waitingWithoutEntity, waiting.all - (yield* jobEntities))
        }
        assert.isAtLeast(deferred, 5, "videos waited for their turn as their jobs' due times")
        assert.isAtLeast(waitingWithoutEntity, 3, "with their entities reaped")
        assert.deepStrictEqual([...videos()].sort(), [...userIds].sort(), "each user gets one video")
        // Each video came after its user's answer, or was the answer itself.
        const calls = sims.telegram.calls.all()
        for (const userId of userIds) {
          const video = calls.find((call) => call.method === "sendVideo" && Number(call.params.chat_id) === userId)!
          const answer = calls.find((call) => call.method === "sendMessage" && Number(call.params.chat_id) === userId)
          if (answer !== undefined) assert.isBelow(answer.seq, video.seq, `user ${userId}`)
        }
      }))
    }), 90_000)

  it("a video waits without its entity only when the answers before it would take more than 60 s, and looks again within 2 minutes", () => {
    assert.strictEqual(videoDeferral(0, 30), 0)
    assert.strictEqual(videoDeferral(1_800, 30), 0)
    assert.strictEqual(videoDeferral(2_100, 30), 70_000)
    assert.strictEqual(videoDeferral(5_000, 30), 120_000)
    assert.strictEqual(videoDeferral(90, 1), 90_000)
  })
})
