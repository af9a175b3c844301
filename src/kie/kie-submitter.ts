/**
 * The way a job talks to KIE: every createTask waits for the circuit breaker and for a
 * place under the account's rate limit (each retry queues again), and is retried by the
 * schedule of its error class. Uploads are retried by the same schedules.
 */
import { Duration, Effect } from "effect"
import { AppConfig } from "../config/index.js"
import type { KieError } from "../errors/kie-errors.js"
import { KieCircuitBreaker } from "./circuit-breaker.js"
import { type CreateTaskRequest, KieClient } from "./kie-client.js"
import { KieRateLimiter } from "./rate-limiter.js"
import { retryKieFrom } from "./retry-schedules.js"

/** `retryBase` is the transient schedule's first wait (KIE_RETRY_BASE). */
export const makeKieSubmitterWith = (options: { readonly retryBase: Duration.Duration }) => Effect.gen(function*() {
  const client = yield* KieClient
  const limiter = yield* KieRateLimiter
  const breaker = yield* KieCircuitBreaker
  const retryKie = retryKieFrom(options.retryBase)
  /** This runner's submissions now waiting for their place under the rate limit, each in its job's run. */
  let waitingForPlace = 0

  /**
   * `onQueued` hears how long this request waits for its place under the rate limit;
   * `onCreated` runs with KIE's answer inside the same uninterruptible region as the call,
   * so the caller's record of the task cannot be cut off from its creation.
   */
  const submit = (
    request: CreateTaskRequest,
    options: {
      readonly onQueued?: (wait: Duration.Duration) => Effect.Effect<void>
      readonly onCreated?: (taskId: string) => Effect.Effect<void>
    } = {}
  ): Effect.Effect<string, KieError> =>
    breaker.guard(Effect.gen(function*() {
      const wait = yield* limiter.reserve
      if (Duration.greaterThan(wait, Duration.zero)) {
        if (options.onQueued !== undefined) yield* options.onQueued(wait)
        yield* Effect.acquireUseRelease(
          Effect.sync(() => waitingForPlace++),
          () => Effect.sleep(wait),
          () => Effect.sync(() => waitingForPlace--)
        )
      }
      const onCreated = options.onCreated ?? (() => Effect.void)
      return yield* client.createTask(request).pipe(Effect.tap(onCreated), Effect.uninterruptible)
    })).pipe(
      retryKie,
      Effect.withSpan("KieSubmitter.submit", { attributes: { model: request.model } })
    )

  /**
   * Whether a fifth of a window of KIE's createTask budget (2 s) is already spoken for by
   * submissions of this runner waiting for their place: another photo sent to KIE now would
   * only have its job wait too, with its entity alive for the wait (src/jobs/photo-uploads.ts).
   */
  const placesSpokenFor = Effect.sync(() => waitingForPlace >= Math.max(1, limiter.limit / 5))

  return {
    submit,
    placesSpokenFor,
    uploadFile: (file: { readonly bytes: Uint8Array; readonly mimeType: string }) => retryKie(client.uploadFile(file))
  } as const
})

export const makeKieSubmitter = Effect.flatMap(
  AppConfig,
  (config) => makeKieSubmitterWith({ retryBase: Duration.millis(config.jobs.kieRetryBaseMs) })
)

export class KieSubmitter extends Effect.Service<KieSubmitter>()("app/KieSubmitter", {
  effect: makeKieSubmitter,
  dependencies: [KieClient.Default, KieRateLimiter.Default, KieCircuitBreaker.Default]
}) {}
