/**
 * Everything a job needs, for tests: both simulators on loopback (KIE on a manual clock
 * that moves with TestClock), the product's runner with the real entities and services,
 * and helpers to move time and wait for what the simulators record.
 */
import { TestClock } from "effect"
import { Duration, Effect, Fiber, Layer, Option, type Scope } from "effect"
import { EntitiesLive } from "../../src/entities.js"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import type { AppSettings } from "../../src/config/index.js"
import type { JobId } from "../../src/domain/ids.js"
import type { JobState } from "../../src/domain/job-state.js"
import { JobRepo } from "../../src/storage/job-repo.js"
import { KieServicesLive } from "../../src/kie/index.js"
import { OperatorAlerts } from "../../src/alerts/operator-alerts.js"
import { kieSimulator, type KieSimOptions, type KieSimulator } from "../../src/sim/kie/index.js"
import { makeTelegramSimulator, type TelegramSimulator } from "../../src/sim/telegram/index.js"
import { TelegramApiLive } from "../../src/telegram/api.js"
import { TelegramGatewayLive } from "../../src/telegram/gateway-live.js"
import { type Dialect, freshSettings } from "./database.js"
import { promptTestClock } from "./prompt-test-clock.js"
import { pastStartUp, realPause, runnerLayer } from "./runner.js"

export interface Simulators {
  readonly telegram: TelegramSimulator
  readonly kie: KieSimulator
  readonly settings: AppSettings
}

export const startSimulators = (
  dialect: Dialect,
  options: { readonly kie?: KieSimOptions; readonly env?: Record<string, string> } = {}
): Effect.Effect<Simulators, never, Scope.Scope> =>
  Effect.gen(function*() {
    yield* promptTestClock
    const telegram = yield* makeTelegramSimulator({ host: "127.0.0.1" })
    const kie = yield* kieSimulator({
      host: "127.0.0.1",
      clock: "manual",
      startTime: 0,
      phases: { waitingMs: 10_000, queuingMs: 20_000, generatingMs: 210_000 },
      ...options.kie
    })
    const settings = yield* freshSettings(dialect, {
      FREE_TOKENS: "2",
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.url,
      KIE_API_KEY: kie.apiKey,
      KIE_BASE_URL: kie.url,
      KIE_UPLOAD_BASE_URL: kie.url,
      PAYMENTS_SECRET: "test-payments-secret",
      ...options.env
    })
    return { telegram, kie, settings }
  })

/** The whole runner as `npm start` assembles it, minus the HTTP server. */
export const jobRunnerLayer = (settings: AppSettings) =>
  runnerLayer(
    settings,
    EntitiesLive.pipe(
      Layer.provideMerge(
        Layer.mergeAll(KieServicesLive, TelegramGatewayLive).pipe(
          Layer.provideMerge(OperatorAlerts.Log),
          Layer.provideMerge(TelegramApiLive)
        )
      )
    )
  )

export { realPause }

/** Moves the KIE simulator's clock and the TestClock together, a step at a time. */
export const advance = (
  kie: KieSimulator,
  total: Duration.DurationInput,
  step: Duration.DurationInput = "5 seconds",
  pauseMs = 25
) =>
  Effect.gen(function*() {
    let left = Duration.toMillis(total)
    const stepMs = Duration.toMillis(step)
    while (left > 0) {
      const ms = Math.min(stepMs, left)
      yield* Effect.promise(() => kie.advance(ms))
      yield* TestClock.adjust(Duration.millis(ms))
      yield* realPause(pauseMs)
      left -= ms
    }
  })

/** Advances time until `done` holds (checked after each step), up to `limit`. */
export const advanceUntil = (
  kie: KieSimulator,
  done: () => Effect.Effect<boolean, unknown, any>,
  limit: Duration.DurationInput = "10 minutes",
  step: Duration.DurationInput = "5 seconds"
) =>
  Effect.gen(function*() {
    const steps = Math.ceil(Duration.toMillis(limit) / Duration.toMillis(step))
    for (let i = 0; i < steps; i++) {
      const checkStarted = Date.now()
      if (yield* done()) return true
      // The check is a database read: on a loaded machine it is slow, and so is the I/O the
      // step sets off. Each step then waits in proportion, so virtual time does not run ahead
      // of work still in flight (a retry budget spent before its attempts could run).
      yield* advance(kie, step, step, Math.max(25, 3 * (Date.now() - checkStarted)))
    }
    return yield* done()
  })

/**
 * Runs an entity call while moving TestClock: on Postgres a reply can wait for a storage
 * poll, which only a clock tick brings.
 */
export const withTicks = <A, E, R>(effect: Effect.Effect<A, E, R>, limit = 60) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < limit; i++) {
      yield* realPause(10)
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return yield* exit.value
      yield* TestClock.adjust("200 millis")
    }
    return yield* Fiber.join(fiber)
  })

/** 40 s generations, for tests about what happens around KIE rather than how long it takes. */
export const quickGeneration = { kie: { phases: { waitingMs: 5_000, queuingMs: 5_000, generatingMs: 30_000 } } }

export const stateOf = (jobId: JobId) =>
  Effect.flatMap(JobRepo, (repo) => repo.stateOf(jobId)).pipe(Effect.map(Option.getOrUndefined))

/** For `advanceUntil`: the job is in one of `states`. */
export const reaches = (jobId: JobId, ...states: ReadonlyArray<JobState>) => () =>
  Effect.map(stateOf(jobId), (current) => current !== undefined && states.includes(current))

/** Runs `body` on a fresh runner over the simulators, past the first shard acquisition. */
export const inRunner = <A, E>(sims: Simulators, body: Effect.Effect<A, E, any>) =>
  Effect.gen(function*() {
    yield* pastStartUp
    return yield* body
  }).pipe(Effect.provide(jobRunnerLayer(sims.settings))) as Effect.Effect<A, E>

/** A JPEG's first bytes and some filler: the simulators check types, not pixels. */
export const photoBytes = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...Array.from({ length: 2048 }, (_, i) => i % 251)])

/** Acts as a Telegram user sending a photo, and starts the job the bot would start for it. */
export const sendPhotoAndStart = (
  sims: Simulators,
  userId: number,
  options: { readonly caption?: string; readonly requestKey?: string; readonly model?: string } = {}
) =>
  Effect.gen(function*() {
    const simUser = sims.telegram.allUsers().some((user) => user.id === userId)
      ? sims.telegram.user(userId)
      : sims.telegram.createUser({ id: userId, first_name: "Ann", language_code: "en" })
    const sent = simUser.sendPhoto(photoBytes, { caption: options.caption ?? "make the waves move" })
    const photo = sent.message.photo!
    const largest = photo[photo.length - 1]!
    const user = (yield* UserEntity.client)(String(userId))
    yield* withTicks(user.Register({ requestKey: `register:${userId}`, profile: { firstName: "Ann", languageCode: "en" } }))
    return yield* withTicks(user.StartJob({
      requestKey: options.requestKey ?? `${userId}:${sent.message.message_id}`,
      chatId: userId,
      photo: { fileId: largest.file_id },
      prompt: options.caption ?? "make the waves move",
      model: options.model ?? "kling-2.6/image-to-video",
      durationSeconds: 5,
      cost: 1,
      languageCode: "en"
    }))
  })
