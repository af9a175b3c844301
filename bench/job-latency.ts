/**
 * One runner (embedded SQLite), both simulators on real time, generation set to 10 s:
 * runs N jobs and prints KIE calls per job, Telegram calls per job, and the time from
 * KIE's success to the video arriving in the Telegram simulator.
 *
 *   npm run bench:job-latency -- [jobs=10]
 */
import { Effect, Layer, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OperatorAlerts } from "../src/alerts/operator-alerts.js"
import { RunnerLive } from "../src/cluster/runner.js"
import { AppConfig, type AppSettings } from "../src/config/index.js"
import { EntitiesLive } from "../src/entities.js"
import { TransferPermits } from "../src/jobs/transfer-permits.js"
import { KieServicesLive } from "../src/kie/index.js"
import { UserEntity } from "../src/protocols/user-protocol.js"
import { kieSimulator } from "../src/sim/kie/index.js"
import { makeTelegramSimulator } from "../src/sim/telegram/index.js"
import { DatabaseLive } from "../src/storage/database.js"
import { JobRepo } from "../src/storage/job-repo.js"
import { TelegramApiLive } from "../src/telegram/api.js"
import { TelegramGatewayLive } from "../src/telegram/gateway-live.js"
import { photoBytes } from "./support.js"

const jobs = Number(process.argv[2] ?? 10)

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

/** The runner as `npm start` assembles it on SQLite, minus intake and HTTP: jobs start through the entities. */
const runnerLayer = (settings: AppSettings) =>
  EntitiesLive.pipe(
    Layer.provideMerge(
      Layer.mergeAll(KieServicesLive, TelegramGatewayLive).pipe(
        Layer.provideMerge(OperatorAlerts.Log),
        Layer.provideMerge(TelegramApiLive)
      )
    ),
    Layer.provideMerge(RunnerLive),
    Layer.provideMerge(DatabaseLive),
    Layer.provideMerge(TransferPermits.Default),
    Layer.provideMerge(Layer.succeed(AppConfig, settings))
  )

const dataDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bench-job-latency-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const program = Effect.gen(function*() {
  const telegram = yield* makeTelegramSimulator({ host: "127.0.0.1" })
  const kie = yield* kieSimulator({ host: "127.0.0.1", clock: "real", phases: { waitingMs: 1_000, queuingMs: 1_000, generatingMs: 8_000 } })
  const settings = yield* AppConfig.fromEnv({
    HTTP_HOST: "127.0.0.1",
    DATA_DIR: yield* dataDir,
    TELEGRAM_BOT_TOKEN: telegram.token,
    TELEGRAM_API_ROOT: telegram.url,
    KIE_API_KEY: kie.apiKey,
    KIE_BASE_URL: kie.url,
    KIE_UPLOAD_BASE_URL: kie.url,
    PAYMENTS_SECRET: "bench-payments-secret",
    FREE_TOKENS: "1"
  }).pipe(Effect.orDie)
  const results = yield* Effect.gen(function*() {
    const users = yield* UserEntity.client
    const repo = yield* JobRepo
    const started = yield* Effect.forEach(Array.from({ length: jobs }, (_, i) => 9000 + i), (userId) =>
      Effect.gen(function*() {
        const sent = telegram.createUser({ id: userId, first_name: "Bench" }).sendPhoto(photoBytes, { caption: "waves" })
        const photo = sent.message.photo!
        yield* users(String(userId)).Register({ requestKey: `r${userId}`, profile: {} })
        const job = yield* users(String(userId)).StartJob({
          requestKey: `${userId}:${sent.message.message_id}`,
          chatId: userId,
          photo: { fileId: photo[photo.length - 1]!.file_id },
          prompt: "waves",
          model: "kling-2.6/image-to-video",
          durationSeconds: 5,
          cost: 1
        })
        return { userId, jobId: job.jobId }
      }), { concurrency: "unbounded" })
    const startedAt = Date.now()
    while (Date.now() - startedAt < 120_000) {
      const states = yield* Effect.forEach(started, ({ jobId }) => repo.stateOf(jobId))
      if (states.every((state) => Option.isSome(state) && ["delivered", "refunded", "failed"].includes(state.value))) break
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.forEach(started, ({ jobId, userId }) =>
      Effect.map(repo.get(jobId), (job) => ({ userId, taskId: Option.getOrUndefined(job)?.kie_task_id ?? undefined })))
  }).pipe(Effect.provide(runnerLayer(settings)))

  const latencies: Array<number> = []
  for (const { taskId, userId } of results) {
    const video = telegram.callsOf("sendVideo").find((call) => Number(call.params.chat_id) === userId && call.outcome.ok)
    const completed = taskId === undefined ? undefined : kie.task(taskId)?.completedAt
    if (video !== undefined && completed !== undefined) latencies.push(video.at - completed)
  }
  const counts = kie.requestCounts()
  const kieCalls = [...counts.values()].reduce((a, b) => a + b, 0)
  const telegramCalls = telegram.calls.all().length
  const rows: Array<[string, string]> = [
    ["jobs", String(jobs)],
    ["delivered", String(latencies.length)],
    ["KIE calls per job", (kieCalls / jobs).toFixed(2)],
    ...[...counts.entries()].map(([route, n]): [string, string] => [`  ${route}`, (n / jobs).toFixed(2)]),
    ["Telegram calls per job", (telegramCalls / jobs).toFixed(2)],
    ["KIE success → video p50 (ms)", String(percentile(latencies, 50))],
    ["KIE success → video p99 (ms)", String(percentile(latencies, 99))],
    ["KIE success → video max (ms)", String(Math.max(...latencies))]
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n"))
})

Effect.runPromise(Effect.scoped(program)).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
