/**
 * The composition root: the only place where layers are assembled and the program runs.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Effect, Layer, Option } from "effect"
import { OperatorAlertsLive } from "./alerts/operator-alerts.js"
import { EntitiesLive } from "./entities.js"
import { JobCallbackSinkLive } from "./jobs/job-entity.js"
import { RunnerLive } from "./cluster/runner.js"
import { AppConfig, describeConfigError } from "./config/index.js"
import { effectScheduler } from "./config/observability.js"
import { HealthRoutes } from "./http/health.js"
import { KieCallbackRoutes } from "./http/kie-callback.js"
import { KieServicesLive } from "./kie/index.js"
import { LoggingLive, ObservabilityRoutes, withSecretsRedacted } from "./observability/index.js"
import { ReconciliationLive } from "./payments/index.js"
import { AppConfigWithSandbox } from "./sim/sandbox.js"
import { TelegramApiLive } from "./telegram/api.js"
import { UserUpdatesLive } from "./telegram/bot.js"
import { CommandMenuLive } from "./telegram/command-menu.js"
import { TelegramGatewayLive } from "./telegram/gateway-live.js"
import { InboxSweepLive } from "./telegram/intake/inbox-sweep.js"
import { TelegramPollerLive } from "./telegram/intake/poller.js"
import { RegisterWebhookLive, TelegramWebhookRoutes } from "./telegram/intake/webhook.js"
import { HttpServerLive } from "./http/router.js"
import { TransferPermits } from "./jobs/transfer-permits.js"
import { DatabaseLive, describeDatabase } from "./storage/database.js"
import { RetentionLive } from "./storage/retention.js"
import { schedulerSliceMs, TimeSlicedScheduler } from "./runtime/time-sliced-scheduler.js"

// Intake: updates in (the polling singleton, or the webhook route and its registration,
// both storing into the inbox; the inbox sweep wakes whoever a lost wake missed) and the
// HTTP routes (health, KIE callbacks, metrics and dashboard).
const TelegramIntakeLive = Layer.merge(
  Layer.unwrapEffect(
    Effect.map(AppConfig, (config) => config.telegram.mode === "webhook" ? RegisterWebhookLive : TelegramPollerLive)
  ),
  InboxSweepLive
)

const TelegramRoutesLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => config.telegram.mode === "webhook" ? TelegramWebhookRoutes : Layer.empty)
)

const HttpLive = HttpServerLive.pipe(
  Layer.provide([
    HealthRoutes,
    KieCallbackRoutes.pipe(Layer.provide(JobCallbackSinkLive)),
    TelegramRoutesLive,
    ObservabilityRoutes
  ])
)

// Entities: each user's entity runs the bot's handlers for that user's updates; the jobs'
// entities drive their generations. Beside them, singletons on one runner at a time:
// Star transactions reconciled with `payments`, and retention of old cluster messages.
const EntitiesAndSingletonsLive = Layer.mergeAll(EntitiesLive, ReconciliationLive, RetentionLive).pipe(
  Layer.provideMerge(UserUpdatesLive)
)

// Outside services: KIE, and Telegram through the process's one Api; operator alerts
// reach the admins through the same gateway the jobs use.
const OutsideServicesLive = KieServicesLive.pipe(
  Layer.provideMerge(OperatorAlertsLive),
  Layer.provideMerge(TelegramGatewayLive),
  Layer.provideMerge(TelegramApiLive)
)

const AnnounceMode = Layer.effectDiscard(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const mode = config.database._tag === "Sqlite"
      ? `embedded mode: one runner on ${describeDatabase(config.database)}, in-process limits`
      : `cluster mode: runner ${config.runnerHost}:${config.runnerPort} on ${describeDatabase(config.database)}, ` +
        (Option.isSome(config.redisUrl) ? "Redis limits" : "in-process limits (run a single runner without REDIS_URL)")
    yield* Effect.logInfo(`${mode}; HTTP on ${config.httpHost}:${config.httpPort}`)
  })
)

const AppLive = Layer.mergeAll(TelegramIntakeLive, CommandMenuLive, HttpLive, AnnounceMode).pipe(
  Layer.provideMerge(EntitiesAndSingletonsLive),
  Layer.provideMerge(OutsideServicesLive),
  // Storage and cluster: the runner (sharding, message storage) on the SQL database.
  Layer.provideMerge(RunnerLive),
  Layer.provideMerge(DatabaseLive),
  // One bound for every photo and video this runner holds in memory (the jobs' and the gateway's).
  Layer.provideMerge(TransferPermits.Default),
  // Nothing built on the settings runs before the redactor knows their secrets.
  Layer.provideMerge(withSecretsRedacted(AppConfigWithSandbox))
)

/** Start-up failures an operator can fix get one line without a trace; anything else the full cause. */
const reportFailure = (cause: Cause.Cause<unknown>) => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (ConfigError.isConfigError(error)) return Effect.logError(describeConfigError(error))
    if (error instanceof Error && "_tag" in error) return Effect.logError(`${String(error._tag)}: ${error.message}`)
  }
  return Effect.logError("runner stopped", cause)
}

/** Runs `effect` with the fibers' scheduler EFFECT_SCHEDULER names: a fiber inherits its parent's. */
const withConfiguredScheduler = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(effectScheduler, (setting) =>
    setting === "default" ? effect : Effect.withScheduler(effect, new TimeSlicedScheduler(schedulerSliceMs)))

// The logger (and its redactor) wraps everything, the report of a failed start included;
// it replaces runMain's pretty logger, which would print every event a second time.
withConfiguredScheduler(Layer.launch(AppLive)).pipe(
  Effect.tapErrorCause(reportFailure),
  Effect.provide(LoggingLive),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
