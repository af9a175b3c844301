import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { Balance } from "../../src/domain/balance.js"
import { JobRepo } from "../../src/storage/job-repo.js"
import { TelegramGateway } from "../../src/telegram/gateway.js"
import { slotSeekers } from "../../src/telegram/outgoing-limits.js"
import type { Dialect } from "../support/database.js"
import {
  advanceUntil,
  jobRunnerLayer,
  quickGeneration,
  reaches,
  realPause,
  sendPhotoAndStart,
  startSimulators,
  stateOf,
  withTicks
} from "../support/job-harness.js"


const budgetPerSecond = 5
const slowBudget = { TELEGRAM_MESSAGES_PER_SECOND: String(budgetPerSecond) }

export const jobEntitySuite = (dialect: Dialect) => describe(`JobEntity on ${dialect}`, () => {
  it.scoped("KIE does not wait for Telegram: with the progress message held back by a 429, the task is created first, and the video still follows the progress message", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, { kie: { phases: { waitingMs: 2_000, queuingMs: 3_000, generatingMs: 20_000 } } })
      sims.telegram.injectFault({ kind: "retry_after", retryAfter: 25, method: "sendMessage", times: 1 })
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const started = yield* sendPhotoAndStart(sims, 5003)
        const acknowledged = () => sims.telegram.callsOf("sendMessage").some((call) => call.outcome.ok)
        assert.isTrue(yield* advanceUntil(sims.kie, () => Effect.sync(() => sims.kie.tasks().length === 1), "30 seconds", "1 second"))
        assert.isFalse(acknowledged())
        // KIE finishes long before Telegram lets the progress message out; the video waits for it.
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "5 minutes"))
        const successful = sims.telegram.calls.all().filter((call) => call.outcome.ok).map((call) => call.method)
        assert.isAtLeast(successful.indexOf("sendMessage"), 0, successful.join(", "))
        assert.isBelow(successful.indexOf("sendMessage"), successful.indexOf("sendVideo"), successful.join(", "))
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, 1)
        assert.strictEqual(sims.kie.tasks().length, 1)
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }), 120_000)

  // These three hold Telegram's shared budget with other users' messages for a minute or
  // more. At 5 messages/s (TELEGRAM_MESSAGES_PER_SECOND) a sixth of the messages hold it as
  // long as at Telegram's 30/s, for a sixth of the work; the order is the same.
  //
  // On SQLite only: the limits and the driver are the same on both. On Postgres the socket
  // runner's pings and shard-lock refreshes also run on the TestClock, and with 1,800
  // loopback sends racing virtual time the job was seen to stall in submitting while
  // Postgres sat idle: a harness artefact (real clocks do not outrun real I/O).
  it.scoped.skipIf(dialect === "pg")("a user who has not heard from us goes ahead of other users' videos: the progress message at once, the video behind those videos", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, { ...quickGeneration, env: slowBudget })
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const gateway = yield* TelegramGateway
        // Other users' videos hold Telegram's shared budget for the next minute.
        const others = Array.from({ length: 60 * budgetPerSecond }, (_, i) => sims.telegram.createUser({ id: 900_000 + i, first_name: "Other" }))
        yield* Effect.forEach(others, (other) => Effect.fork(gateway.sendMessage(other.id, "your video")), { discard: true })
        const started = yield* sendPhotoAndStart(sims, 5005)
        // Small steps: each lets ~30 of those messages out, not a burst that starves the runner.
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "3 minutes", "1 second"))
        const callsToUser = () =>
          sims.telegram.calls.all().filter((call) => Number(call.params.chat_id) === 5005 && call.method !== "sendChatAction")
        // The progress message's last edit follows the video a chat interval later.
        yield* advanceUntil(sims.kie, () => Effect.sync(() => callsToUser().length >= 3), "10 seconds", "1 second")
        const toUser = callsToUser()
        assert.deepStrictEqual(toUser.map((call) => call.method), ["sendMessage", "sendVideo", "editMessageText"])
        assert.isTrue(toUser.every((call) => call.outcome.ok))
        const othersSent = sims.telegram.callsOf("sendMessage").filter((call) => call.outcome.ok && Number(call.params.chat_id) >= 900_000)
        // The progress message passed all but the few sent while the job started ...
        assert.isBelow(othersSent.filter((call) => call.seq < toUser[0]!.seq).length, 7 * budgetPerSecond)
        // ... and the video, to a user who had heard from us, waited behind the videos queued
        // before it, but for those looking for a slot beside it.
        assert.isAbove(othersSent.filter((call) => call.seq < toUser[1]!.seq).length, others.length - slotSeekers)
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }), 120_000)

  it.scoped.skipIf(dialect === "pg")("a video ready before its progress message had a turn takes the message's place in line and goes out alone", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, { ...quickGeneration, env: slowBudget })
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const gateway = yield* TelegramGateway
        const answer = (id: number, askedAtMs: number) =>
          Effect.fork(gateway.sendProgressMessage(id, "queued", { askedAtMs, stillWanted: Effect.succeed(true) }))
        // Answers to older photos of other users hold the line for the next minute.
        const older = Array.from({ length: 60 * budgetPerSecond }, (_, i) => sims.telegram.createUser({ id: 900_000 + i, first_name: "Older" }))
        yield* Effect.forEach(older, (user) => answer(user.id, 0), { discard: true })
        const started = yield* sendPhotoAndStart(sims, 5005)
        const createdAt = Number(Option.getOrThrow(yield* Effect.flatMap(JobRepo, (repo) => repo.get(started.jobId))).created_at_ms)
        // And answers to younger photos wait behind it.
        const younger = Array.from({ length: 10 * budgetPerSecond }, (_, i) => sims.telegram.createUser({ id: 950_000 + i, first_name: "Younger" }))
        yield* Effect.forEach(younger, (user) => answer(user.id, createdAt + 1), { discard: true })
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "3 minutes", "1 second"))
        const toUser = sims.telegram.calls.all().filter((call) => Number(call.params.chat_id) === 5005 && call.method !== "sendChatAction")
        // No "queued" message after the fact, and so no edits of it either.
        assert.deepStrictEqual(toUser.map((call) => call.method), ["sendVideo"])
        assert.isTrue(toUser[0]!.outcome.ok)
        assert.isNull(Option.getOrThrow(yield* Effect.flatMap(JobRepo, (repo) => repo.get(started.jobId))).progress_message_id)
        const sentTo = (from: number, to: number) =>
          sims.telegram.callsOf("sendMessage").filter((call) =>
            call.outcome.ok && Number(call.params.chat_id) >= from && Number(call.params.chat_id) < to
          )
        // Older answers before it, younger ones after it, but for those that looked for a slot beside it.
        assert.isAbove(sentTo(900_000, 950_000).filter((call) => call.seq < toUser[0]!.seq).length, older.length - slotSeekers)
        assert.isBelow(sentTo(950_000, 960_000).filter((call) => call.seq < toUser[0]!.seq).length, slotSeekers)
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }), 120_000)

  it.scoped.skipIf(dialect === "pg")("a progress edit waiting behind other users' videos does not hold up the job's polling, and is dropped once the video is ready", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, {
        kie: { phases: { waitingMs: 1_000, queuingMs: 1_000, generatingMs: 40_000 } },
        env: slowBudget
      })
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const gateway = yield* TelegramGateway
        const started = yield* sendPhotoAndStart(sims, 5006)
        const toUser = () =>
          sims.telegram.calls.all()
            .filter((call) => Number(call.params.chat_id) === 5006 && call.outcome.ok && call.method !== "sendChatAction")
            .map((call) => String(call.params.text ?? "").includes("Generating") ? "generating" : call.method)
        // Off-peak, the progress message and its first "generating" edit go out at once (the
        // second poll, due 5 s after the first, waits up to a second more for the waker's pass).
        assert.isTrue(yield* advanceUntil(sims.kie, () => Effect.sync(() => toUser().length === 2), "7 seconds", "200 millis"))
        const createdAt = Number(Option.getOrThrow(yield* Effect.flatMap(JobRepo, (repo) => repo.get(started.jobId))).created_at_ms)
        // Then other users' videos take Telegram's budget for the next 80 s.
        const others = Array.from({ length: 80 * budgetPerSecond }, (_, i) => sims.telegram.createUser({ id: 910_000 + i, first_name: "Other" }))
        yield* Effect.forEach(others, (other) => Effect.fork(gateway.sendMessage(other.id, "your video")), { discard: true })
        const ok = yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "3 minutes", "1 second")
        if (!ok) console.log("DEBUG", Option.getOrThrow(yield* Effect.flatMap(JobRepo, (repo) => repo.get(started.jobId))), toUser())
        assert.isTrue(ok)
        const job = Option.getOrThrow(yield* Effect.flatMap(JobRepo, (repo) => repo.get(started.jobId)))
        // Polls at 0, 5, 12.5, 23.8, 40.6 and 65.9 s: the last sees the task (done at 42 s),
        // although the edit of the 40.6 s poll was still waiting for a slot.
        assert.isBelow(Number(job.kie_succeeded_at_ms) - createdAt, 75_000)
        // That edit never went out: after the video it would be a lie.
        assert.deepStrictEqual(toUser().slice(0, 3), ["sendMessage", "generating", "sendVideo"], toUser().join(", "))
        assert.strictEqual(toUser().filter((method) => method === "generating").length, 1, toUser().join(", "))
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }), 400_000)

  it.scoped("a progress message that goes out late, while the job polls, still gets its Generating edit before the video", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect)
      sims.telegram.injectFault({ kind: "retry_after", retryAfter: 20, method: "sendMessage", times: 1 })
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const started = yield* sendPhotoAndStart(sims, 5004)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "6 minutes"))
        const successful = sims.telegram.calls.all().filter((call) => call.outcome.ok)
        const sent = successful.findIndex((call) => call.method === "sendMessage")
        const generating = successful.findIndex((call) => call.method === "editMessageText" && String(call.params.text).includes("Generating"))
        const video = successful.findIndex((call) => call.method === "sendVideo")
        assert.isAtLeast(sent, 0)
        assert.isAbove(generating, sent, successful.map((call) => call.method).join(", "))
        assert.isBelow(generating, video, successful.map((call) => call.method).join(", "))
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }), 120_000)

  it.scoped("a 4-minute generation is delivered with its button, progress edits and the unit captured", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect)
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const started = yield* sendPhotoAndStart(sims, 5001)
        assert.deepStrictEqual(started.balance, new Balance({ credits: 0, freeTokens: 1 }))

        const delivered = yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "6 minutes")
        if (!delivered) console.log("DEBUG", yield* stateOf(started.jobId), sims.telegram.calls.all().map((c) => c.method), sims.kie.tasks().length)
        assert.isTrue(delivered)

        // The "Done" edit follows the transition to delivered.
        for (let i = 0; i < 100 && !sims.telegram.callsOf("editMessageText").some((c) => String(c.params.text).includes("Done")); i++) {
          yield* realPause(20)
        }
        const videos = sims.telegram.callsOf("sendVideo")
        assert.strictEqual(videos.length, 1)
        const video = videos[0]!
        assert.include(JSON.stringify(video.params), `again:${started.jobId}`)
        assert.include(JSON.stringify(video.params), "Balance: 0 credits and 1 free")
        const edits = sims.telegram.callsOf("editMessageText").map((call) => String(call.params.text))
        // Generating edits (the first one removes Cancel), at most one per 30 s, then Done;
        // uploading and sending are not edits (each edit spends the bot's 30 messages/s).
        assert.include(edits[0]!, "Generating", edits.join(" | "))
        assert.include(edits[edits.length - 1]!, "Done", edits.join(" | "))
        assert.isTrue(edits.slice(0, -1).every((text) => text.includes("Generating")), edits.join(" | "))
        assert.isAtMost(edits.length, 10)
        // "uploading video" once, not repeated while the video goes out.
        assert.strictEqual(sims.telegram.callsOf("sendChatAction").length, 1)

        assert.strictEqual(sims.kie.tasks().length, 1)
        assert.strictEqual(sims.kie.uploads().length, 1)
        const sql = yield* SqlClient.SqlClient
        const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE job_id = ${started.jobId} ORDER BY id`
        assert.deepStrictEqual(kinds.map((row) => row.kind), ["reserve", "capture"])
        const balance = yield* withTicks((yield* UserEntity.client)("5001").GetBalance())
        assert.deepStrictEqual(balance, new Balance({ credits: 0, freeTokens: 1 }))
        const events = yield* sql<{ to_state: string }>`SELECT to_state FROM job_events WHERE job_id = ${started.jobId} ORDER BY id`
        assert.deepStrictEqual(events.map((row) => row.to_state), ["queued", "submitting", "polling", "delivering", "delivered"])
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }), 120_000)

  it.scoped("a second job on the same photo reuses its KIE upload", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, { kie: { phases: { waitingMs: 5_000, queuingMs: 5_000, generatingMs: 20_000 } } })
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const first = yield* sendPhotoAndStart(sims, 5002)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(first.jobId, "delivered"), "3 minutes"))
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ photo_file_id: string }>`SELECT photo_file_id FROM jobs WHERE id = ${first.jobId}`
        const again = yield* withTicks((yield* UserEntity.client)("5002").StartJob({
          requestKey: "again:press-1",
          chatId: 5002,
          photo: { fileId: row!.photo_file_id },
          prompt: "make the waves move",
          model: "kling-2.6/image-to-video",
          durationSeconds: 5,
          cost: 1
        }))
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(again.jobId, "delivered"), "3 minutes"))
        assert.strictEqual(sims.kie.uploads().length, 1)
        assert.strictEqual(sims.kie.tasks().length, 2)
        assert.strictEqual(sims.telegram.callsOf("getFile").length, 1)
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }), 120_000)
})
