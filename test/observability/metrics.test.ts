import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { JobRepo } from "../../src/storage/job-repo.js"
import { TelegramInbox } from "../../src/storage/telegram-inbox.js"
import {
  recordDelivery,
  recordJobDelivered,
  recordJobRefunded,
  recordJobStarted,
  recordPayment
} from "../../src/observability/metrics.js"
import {
  advanceUntil,
  jobRunnerLayer,
  quickGeneration,
  sendPhotoAndStart,
  startSimulators
} from "../support/job-harness.js"
import { assertProcessMetrics, metricsServer, parseExposition, valueOf } from "./exposition.js"

describe("GET /metrics", () => {
  it.scoped("exposes Effect's metrics in Prometheus format; KIE and Telegram call counters move as a job runs; the process's metrics follow", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators("sqlite", quickGeneration)
      yield* Effect.gen(function*() {
        const scrape = yield* metricsServer
        const before = yield* scrape
        assert.strictEqual(before.status, 200)
        assert.match(before.type ?? "", /^text\/plain; version=0\.0\.4/)
        const was = parseExposition(before.text)

        yield* TestClock.adjust(1)
        const started = yield* sendPhotoAndStart(sims, 7101)
        const delivered = yield* advanceUntil(sims.kie, () =>
          Effect.flatMap(JobRepo, (repo) => repo.stateOf(started.jobId)).pipe(
            Effect.map((state) => Option.getOrUndefined(state) === "delivered")
          ), "2 minutes")
        assert.isTrue(delivered)

        const after = yield* scrape
        assert.match(after.text, /# TYPE kie_calls_total counter/)
        const now = parseExposition(after.text)
        const moved = (name: string, labels: Record<string, string>) => valueOf(now, name, labels) - valueOf(was, name, labels)
        assert.strictEqual(moved("kie_calls_total", { endpoint: "upload", outcome: "ok" }), 1)
        assert.strictEqual(moved("kie_calls_total", { endpoint: "createTask", outcome: "ok" }), 1)
        assert.isAtLeast(moved("kie_calls_total", { endpoint: "recordInfo", outcome: "ok" }), 1)
        assert.strictEqual(moved("telegram_calls_total", { method: "sendVideo", outcome: "ok" }), 1)
        assert.strictEqual(moved("telegram_calls_total", { method: "getFile", outcome: "ok" }), 1)
        // Back to where it was: earlier tests in this process may have left jobs unfinished.
        assert.strictEqual(valueOf(now, "jobs_in_flight"), valueOf(was, "jobs_in_flight"))
        assert.isAbove(valueOf(now, "shards_held"), 0)
        assert.strictEqual(valueOf(now, "kie_circuit_open"), 0)
        // The process's own (prom-client), in the same document: CPU, memory, event loop, GC.
        assertProcessMetrics(after.text)
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }))

  it.scoped("job, payment and latency metrics are exported with their labels and histogram buckets", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators("sqlite")
      yield* Effect.gen(function*() {
        const scrape = yield* metricsServer
        const was = parseExposition((yield* scrape).text)
        yield* recordJobStarted
        yield* recordJobStarted
        yield* recordJobDelivered({ generationMs: 75_000, deliveryMs: 1_500 })
        yield* recordJobRefunded("KieUserError")
        yield* recordPayment("credited", 250)
        yield* recordPayment("refunded", 250)
        const text = (yield* scrape).text
        const now = parseExposition(text)
        const moved = (name: string, labels: Record<string, string> = {}) =>
          valueOf(now, name, labels) - valueOf(was, name, labels)
        assert.strictEqual(moved("jobs_started_total"), 2)
        assert.strictEqual(moved("jobs_delivered_total"), 1)
        assert.strictEqual(moved("jobs_refunded_total", { error_class: "KieUserError" }), 1)
        assert.strictEqual(moved("payments_total", { outcome: "credited" }), 1)
        assert.strictEqual(moved("payments_total", { outcome: "refunded" }), 1)
        assert.strictEqual(moved("payment_stars_total"), 250)
        assert.match(text, /# TYPE job_generation_seconds histogram/)
        assert.strictEqual(moved("job_generation_seconds_count"), 1)
        assert.strictEqual(moved("job_generation_seconds_bucket", { le: "60" }), 0)
        assert.strictEqual(moved("job_generation_seconds_bucket", { le: "90" }), 1)
        assert.strictEqual(moved("job_delivery_seconds_bucket", { le: "2" }), 1)
        // A difference of two float sums (the process's metrics outlive a test file).
        assert.closeTo(moved("job_delivery_seconds_sum"), 1.5, 1e-9)

        // The driver's call: timings from the job's row and the clock (not moved: a jump of
        // minutes would run every timer of the runner underneath).
        const clock = yield* TestClock.currentTimeMillis
        yield* recordDelivery({ created_at_ms: clock - 200_000, kie_succeeded_at_ms: clock - 4_000 })
        const later = parseExposition((yield* scrape).text)
        const movedSince = (name: string, labels: Record<string, string> = {}) =>
          valueOf(later, name, labels) - valueOf(now, name, labels)
        assert.strictEqual(movedSince("jobs_delivered_total"), 1)
        assert.strictEqual(movedSince("job_generation_seconds_bucket", { le: "180" }), 0)
        assert.strictEqual(movedSince("job_generation_seconds_bucket", { le: "300" }), 1)
        assert.closeTo(movedSince("job_delivery_seconds_sum"), 4, 1e-9)
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }))
  it.scoped("updates stored and not yet handled: how many, and how long the oldest has waited", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators("sqlite")
      yield* Effect.gen(function*() {
        const scrape = yield* metricsServer
        const gauges = Effect.map(scrape, ({ text }) => {
          const now = parseExposition(text)
          return [valueOf(now, "telegram_updates_unhandled"), valueOf(now, "telegram_updates_unhandled_oldest_seconds")]
        })
        assert.deepStrictEqual(yield* gauges, [0, 0])

        const inbox = yield* TelegramInbox
        const now = yield* TestClock.currentTimeMillis
        const row = (updateId: number) => ({ updateId, userId: 7201, payload: `{"update_id":${updateId}}` })
        yield* inbox.store([row(1), row(2)], now - 30_000)
        yield* inbox.store([row(3)], now - 5_000)
        yield* inbox.markHandled(1, now)
        assert.deepStrictEqual(yield* gauges, [2, 30])

        yield* Effect.forEach([2, 3], (updateId) => inbox.markHandled(updateId, now))
        assert.deepStrictEqual(yield* gauges, [0, 0])
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }))
})
