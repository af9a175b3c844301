/**
 * The rate limits every runner shares (Telegram's flood limits, the users' flood limit,
 * KIE's createTask limit), and what happens when Redis, which holds them, fails.
 *
 * Shared → local: a Redis call that fails, or does not answer within `storeDeadline` (the
 * client's own deadline, on real time: ./redis-store.ts), or a lost connection switches this
 * runner to its in-process store, once per outage (a warning, the gauge
 * `rate_limiter_store_degraded`, `/readyz`). A limit that all runners have together
 * (`global`) is then divided by the number of live runners, counted when the outage
 * starts; a limit per chat or per user is kept whole, since one runner sends most of a
 * chat's messages. A limit is not worth an outage of the bot: no caller waits for Redis.
 *
 * Local → shared: a probe pings Redis every `probeEvery` and switches back when it answers.
 */
import { RateLimiter } from "@effect/experimental"
import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect, FiberHandle, Metric, Option, Redacted, Ref, Runtime, Schedule, type Scope } from "effect"
import { liveRunnersOtherThan } from "../cluster/runner.js"
import { AppConfig, type AppSettings } from "../config/index.js"
import { rateLimitsLocal, rateLimitsOutages } from "../observability/metrics.js"
import { type BudgetUsage, makeBudgetUsage } from "./budget-usage.js"
import type { LimitRequest } from "./limit-request.js"
import { type LimiterStore, makeMemoryStore, type MemoryStoreOptions } from "./memory-store.js"
import { makeRedisLimiterStore, redisOptionsFromUrl, type RedisLimiterStore } from "./redis-store.js"

export type { LimitRequest } from "./limit-request.js"

export type LimitsStatus =
  /** No REDIS_URL: the limits are this process's, by design (one runner). */
  | { readonly _tag: "InProcess" }
  /** In Redis, for all runners together. */
  | { readonly _tag: "Shared" }
  /** Redis failed: this runner limits itself, at 1/runners of each global limit. */
  | { readonly _tag: "Local"; readonly since: number; readonly runners: number; readonly reason: string }

export interface RateLimitsService {
  /** As `RateLimiter.consume`; the only failure left is the limit itself. */
  readonly consume: (request: LimitRequest) => Effect.Effect<RateLimiter.ConsumeResult, RateLimiter.RateLimitExceeded>
  readonly status: Effect.Effect<LimitsStatus>
  /** What this runner asked of each limit in the last minute (./budget-usage.ts). */
  readonly usage: Effect.Effect<ReadonlyArray<BudgetUsage>>
}

/** Redis answers a limiter call in a millisecond; a second means it is gone. */
export const storeDeadline = Duration.seconds(1)
export const probeEvery = Duration.seconds(2)

/**
 * A runner's share of a limit that all `runners` have together: the rate divided by the
 * runners, and the burst too (at least one request each).
 */
export const shareOf = (request: LimitRequest, runners: number): LimitRequest => {
  if (request.global !== true || runners <= 1) return request
  const limit = Math.max(1, Math.floor(request.limit / runners))
  // The library refills `limit` tokens per `window`: keep limit / window at 1/runners.
  const window = request.algorithm === "token-bucket"
    ? Duration.times(Duration.decode(request.window), (runners * limit) / request.limit)
    : request.window
  return { ...request, limit, window }
}

const isStoreError = (error: RateLimiter.RateLimiterError): error is RateLimiter.RateLimitStoreError =>
  error.reason === "StoreError"

/** The in-process store cannot fail; its type says it may, like any store. */
const exceededOnly = <A>(effect: Effect.Effect<A, RateLimiter.RateLimiterError>) =>
  Effect.catchIf(effect, isStoreError, Effect.die)

const limiterOn = (store: LimiterStore) => RateLimiter.make.pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))

export const makeRateLimits = (options: {
  /** Redis; without it the limits are in-process only. */
  readonly shared: RedisLimiterStore | undefined
  /** How many runners are live now, this one included. */
  readonly liveRunners: Effect.Effect<number>
  readonly probeEvery?: Duration.DurationInput
  readonly local?: MemoryStoreOptions
}): Effect.Effect<RateLimitsService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const local = yield* limiterOn((yield* makeMemoryStore(options.local)).store)
    const usage = yield* makeBudgetUsage()
    if (options.shared === undefined) {
      return {
        consume: (request) => usage.track(request, exceededOnly(local.consume(request))),
        status: Effect.succeed({ _tag: "InProcess" } as const),
        usage: usage.snapshot
      }
    }
    const redis = options.shared
    const shared = yield* limiterOn(redis.store)
    const status = yield* Ref.make<LimitsStatus>({ _tag: "Shared" })
    const transition = yield* Effect.makeSemaphore(1)
    const prober = yield* FiberHandle.make<void, never>()
    yield* Metric.set(rateLimitsLocal, 0)

    const backToShared = Effect.gen(function*() {
      const previous = yield* Ref.getAndSet(status, { _tag: "Shared" })
      yield* Metric.set(rateLimitsLocal, 0)
      if (previous._tag !== "Local") return
      const now = yield* Clock.currentTimeMillis
      yield* Effect.logInfo(
        `Redis answers again after ${Duration.format(Duration.millis(now - previous.since))}; ` +
          `the rate limits are shared by all runners again`
      )
    })

    const probe = Effect.sleep(options.probeEvery ?? probeEvery).pipe(
      Effect.zipRight(Effect.retry(
        redis.ping,
        Schedule.spaced(options.probeEvery ?? probeEvery)
      )),
      Effect.orDie,
      Effect.zipRight(transition.withPermits(1)(backToShared))
    )

    const goLocal = (reason: string) =>
      transition.withPermits(1)(Effect.gen(function*() {
        if ((yield* Ref.get(status))._tag === "Local") return
        const runners = Math.max(1, yield* options.liveRunners)
        yield* Ref.set(status, { _tag: "Local", since: yield* Clock.currentTimeMillis, runners, reason })
        yield* Metric.set(rateLimitsLocal, 1)
        yield* Metric.increment(rateLimitsOutages)
        yield* Effect.logWarning(
          `Redis failed (${reason}); until it answers again this runner limits itself locally, ` +
            `at 1/${runners} of the global limits`
        )
        // At the default priority: a Telegram call that meets the outage first runs urgent
        // (src/telegram/gateway-live.ts), and a fiber inherits its parent's priority.
        yield* FiberHandle.run(prober, Effect.withSchedulingPriority(probe, 0), { onlyIfMissing: true })
      }))

    const consumeLocal = (request: LimitRequest) =>
      Effect.flatMap(Ref.get(status), (current) =>
        exceededOnly(local.consume(current._tag === "Local" ? shareOf(request, current.runners) : request)))

    const consumeShared = (request: LimitRequest) =>
      shared.consume(request).pipe(
        Effect.catchIf(isStoreError, (error) => Effect.zipRight(goLocal(error.message), consumeLocal(request)))
      )

    // A lost connection is an outage too, even when no limiter call meets it.
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    redis.onConnectionLost((reason) => runFork(goLocal(reason)))

    return {
      consume: (request) =>
        usage.track(
          request,
          Effect.flatMap(Ref.get(status), (current) => current._tag === "Local" ? consumeLocal(request) : consumeShared(request))
        ),
      status: Ref.get(status),
      usage: usage.snapshot
    }
  })

/** Live runners in the cluster's table (Postgres); on SQLite there is only this one. */
const liveRunnersOf = (config: AppSettings) =>
  Effect.gen(function*() {
    const sql = yield* Effect.serviceOption(SqlClient.SqlClient)
    if (config.database._tag === "Sqlite" || Option.isNone(sql)) return Effect.succeed(1)
    const self = `${config.runnerHost}:${config.runnerPort}`
    return liveRunnersOtherThan(self, config.cluster.shardLockExpirationMs).pipe(
      Effect.map((others) => others.length + 1),
      Effect.provideService(SqlClient.SqlClient, sql.value),
      Effect.timeout(storeDeadline),
      Effect.orElseSucceed(() => 1)
    )
  })

/** Redis when REDIS_URL is set (limits hold across runners), otherwise this process only. */
export class RateLimits extends Effect.Service<RateLimits>()("app/RateLimits", {
  scoped: Effect.gen(function*() {
    const config = yield* AppConfig
    const shared = yield* Option.match(config.redisUrl, {
      onNone: () => Effect.succeed(undefined),
      onSome: (url) =>
        makeRedisLimiterStore({
          redis: redisOptionsFromUrl(Redacted.value(url)),
          prefix: "photo-video-bot:ratelimit:",
          deadline: storeDeadline
        })
    })
    return yield* makeRateLimits({ shared, liveRunners: yield* liveRunnersOf(config) })
  })
}) {}

