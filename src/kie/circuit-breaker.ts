/**
 * Stops new KIE submissions while KIE cannot be used for reasons only an operator can fix
 * (bad key, account out of credits, key cap, model disabled). Submissions wait instead of
 * failing, operators are alerted once per outage, and a probe (the free credits call)
 * closes the breaker when KIE answers and the account can pay for a video again.
 */
import { Clock, Duration, Effect, FiberHandle, Metric, Option, Ref, Schedule } from "effect"
import { AppConfig } from "../config/index.js"
import type { KieError, KieOperatorError } from "../errors/kie-errors.js"
import { isOperator } from "./classify.js"
import { KieClient } from "./kie-client.js"
import { findModel } from "./models.js"
import { OperatorAlerts } from "../alerts/operator-alerts.js"
import { breakerFirstProbe, breakerProbe } from "./retry-schedules.js"

export type BreakerState =
  | { readonly _tag: "Closed" }
  | {
    readonly _tag: "Open"
    readonly since: number
    readonly reason: KieOperatorError["reason"]
    readonly message: string
    readonly failedProbes: number
  }

/**
 * Failures that make every submission fail, whoever sends it. A refused parameter
 * (InvalidRequest) is a bug in one request shape: operators hear of it, intake goes on.
 */
export const accountWide: ReadonlySet<KieOperatorError["reason"]> = new Set([
  "BadApiKey",
  "AccountOutOfCredits",
  "KeyCapReached",
  "ModelDisabled",
  "UnknownModel",
  "NotFound",
  "BlockedByCloudflare"
] as const)

/** A request-level operator error is alerted at most this often per reason. */
const alertEvery = Duration.minutes(10)

export const openGauge = Metric.gauge("kie_circuit_open", { description: "1 while KIE submissions are paused for an operator" })
export const tripCounter = Metric.counter("kie_circuit_trips_total", { description: "times the KIE circuit opened" })

export interface BreakerOptions {
  /** The balance below which KIE is not usable yet: what the costliest video costs. */
  readonly minimumCredits: number
  /** Probing at once would close the breaker on a 505 or a flaky 401 and alert again. */
  readonly firstProbeAfter: Duration.DurationInput
  readonly probe: Schedule.Schedule<unknown>
}

export const makeCircuitBreaker = (options: BreakerOptions) =>
  Effect.gen(function*() {
    const client = yield* KieClient
    const alerts = yield* OperatorAlerts
    const state = yield* Ref.make<BreakerState>({ _tag: "Closed" })
    const closed = yield* Effect.makeLatch(true)
    const prober = yield* FiberHandle.make<void, never>()
    const lastAlert = new Map<string, number>()

    const close = Effect.gen(function*() {
      const previous = yield* Ref.getAndSet(state, { _tag: "Closed" })
      yield* Metric.set(openGauge, 0)
      yield* closed.open
      if (previous._tag === "Open") {
        const now = yield* Clock.currentTimeMillis
        yield* alerts.alert({
          subject: "KIE is usable again",
          detail: `submissions resumed after ${Duration.format(Duration.millis(now - previous.since))} (${previous.reason})`
        })
      }
    })

    // A probe succeeds only when the key works and the account can pay for a video.
    const probeOnce = client.getCredits().pipe(
      Effect.filterOrFail(
        (credits) => credits >= options.minimumCredits,
        (credits) => `balance ${credits} is below ${options.minimumCredits}`
      ),
      Effect.tapError(() =>
        Ref.update(state, (s) => s._tag === "Open" ? { ...s, failedProbes: s.failedProbes + 1 } : s)
      )
    )

    // The schedule is unbounded, so this only ends when KIE is usable (or the scope closes).
    const probeUntilUsable = Effect.sleep(options.firstProbeAfter).pipe(
      Effect.zipRight(Effect.retry(probeOnce, { schedule: options.probe })),
      Effect.ignore,
      Effect.zipRight(close)
    )

    const trip = (error: KieOperatorError) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const previous = yield* Ref.getAndUpdate(state, (s): BreakerState =>
          s._tag === "Open" ? s : { _tag: "Open", since: now, reason: error.reason, message: error.message, failedProbes: 0 })
        if (previous._tag === "Open") return
        yield* closed.close
        yield* Metric.set(openGauge, 1)
        yield* Metric.increment(tripCounter)
        yield* alerts.alert({
          subject: "KIE submissions paused",
          detail: `${error.message}. New jobs wait until a probe succeeds; users keep their credit.`,
          error
        })
        yield* FiberHandle.run(prober, probeUntilUsable, { onlyIfMissing: true })
      })

    const alertOnly = (error: KieOperatorError) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const last = lastAlert.get(error.reason)
        if (last !== undefined && now - last < Duration.toMillis(alertEvery)) return
        lastAlert.set(error.reason, now)
        yield* alerts.alert({ subject: "KIE refused a request", detail: `${error.message}. Intake continues.`, error })
      })

    /** Opens the breaker when the call fails with an account-wide operator error; the error still propagates. */
    const observe = <A, E extends KieError, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.tapError(effect, (error) =>
        !isOperator(error) ? Effect.void : accountWide.has(error.reason) ? trip(error) : alertOnly(error))

    /** For new submissions: waits while the breaker is open, then runs and observes the call. */
    const guard = <A, E extends KieError, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.zipRight(closed.await, observe(effect))

    return {
      guard,
      observe,
      state: Ref.get(state),
      isOpen: Effect.map(Ref.get(state), (s) => s._tag === "Open")
    } as const
  })

export class KieCircuitBreaker extends Effect.Service<KieCircuitBreaker>()("app/KieCircuitBreaker", {
  scoped: Effect.gen(function*() {
    const config = yield* AppConfig
    const model = findModel(config.kie.model)
    const minimumCredits = Option.fromNullable(model).pipe(
      Option.map((m) => Math.max(...Object.values(m.kieCreditsEstimate))),
      Option.getOrElse(() => 1)
    )
    return yield* makeCircuitBreaker({ minimumCredits, firstProbeAfter: breakerFirstProbe, probe: breakerProbe })
  }),
  dependencies: [KieClient.Default]
}) {}
