/**
 * The bot's metrics, on Effect's `Metric` API; `/metrics` exports the global registry
 * (src/http/metrics.ts). Code that counts something calls one of the small effects below,
 * so label names and values stay consistent. The KIE breaker's own metrics
 * (`kie_circuit_open`, `kie_circuit_trips_total`) live beside the breaker; the process's
 * (CPU, memory, event loop, GC) come from prom-client (src/observability/process-metrics.ts).
 */
import { Clock, Effect, Metric, MetricBoundaries, MetricLabel } from "effect"

export const jobsStarted = Metric.counter("jobs_started_total", {
  description: "jobs accepted (credit reserved, queued)",
  incremental: true
})
export const lonePhotosAdmitted = Metric.counter("lone_photos_admitted_total", {
  description: "jobs admitted by the Telegram poller itself, without their user's entity (a photo that was its user's only update)",
  incremental: true
})
export const jobsDelivered = Metric.counter("jobs_delivered_total", {
  description: "jobs whose video reached the user",
  incremental: true
})
export const jobsRefunded = Metric.counter("jobs_refunded_total", {
  description: "jobs that ended without a video, by error class",
  incremental: true
})
export const kieCalls = Metric.counter("kie_calls_total", {
  description: "KIE HTTP calls by endpoint and outcome (ok or the error class)",
  incremental: true
})
export const telegramCalls = Metric.counter("telegram_calls_total", {
  description: "Bot API call attempts by method and outcome (ok or the error class)",
  incremental: true
})
export const payments = Metric.counter("payments_total", {
  description: "Star payments by outcome (credited, refunded)",
  incremental: true
})
export const paymentStars = Metric.counter("payment_stars_total", {
  description: "Stars of credited payments",
  incremental: true
})
export const promoRedemptions = Metric.counter("promo_redemptions_total", {
  description: "Promo code attempts by outcome (redeemed, or the refusal: unknown, already-redeemed, disabled, expired, exhausted)",
  incremental: true
})
export const referralBonuses = Metric.counter("referral_bonuses_total", {
  description: "Qualified invitations by the inviter's outcome (granted, capped, disabled)",
  incremental: true
})
export const updatesRetried = Metric.counter("bot_updates_retried_total", {
  description: "failed handlings of an update that are followed by another (the update is handled again)"
})
export const updatesSetAside = Metric.counter("bot_updates_set_aside_total", {
  description: "updates that kept failing, recorded in dead_letter_updates and skipped, by failure class",
  incremental: true
})
export const jobDriverDeaths = Metric.counter("job_driver_deaths_total", {
  description: "job drivers that died and were restarted or, past the limit, ended the job, by failure class",
  incremental: true
})
export const jobsInFlight = Metric.gauge("jobs_in_flight", {
  description: "jobs not yet delivered, refunded or failed (whole cluster, read from the database at scrape)"
})
export const updatesUnhandled = Metric.gauge("telegram_updates_unhandled", {
  description: "updates stored by the intake and not yet handled by their user's entity (whole cluster, read from the database at scrape)"
})
export const oldestUnhandledUpdateSeconds = Metric.gauge("telegram_updates_unhandled_oldest_seconds", {
  description: "how long the oldest of those updates has waited, in seconds (0 when none waits)"
})
export const rateLimitsLocal = Metric.gauge("rate_limiter_store_degraded", {
  description: "1 while Redis fails and this runner limits itself locally, at its share of the global limits"
})
export const rateLimitsOutages = Metric.counter("rate_limiter_store_outages_total", {
  description: "times this runner fell back from the Redis limits to local ones",
  incremental: true
})
export const shardsHeld = Metric.gauge("shards_held", { description: "shards this runner owns now" })

// Seconds; generation spans KIE's queue and render, delivery the download and upload.
const generationBoundaries = MetricBoundaries.fromIterable([10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200])
const deliveryBoundaries = MetricBoundaries.fromIterable([0.5, 1, 2, 5, 10, 20, 30, 60, 120])

export const generationSeconds = Metric.histogram(
  "job_generation_seconds",
  generationBoundaries,
  "job created until KIE reported success"
)
export const deliverySeconds = Metric.histogram(
  "job_delivery_seconds",
  deliveryBoundaries,
  "KIE success until the video was sent"
)

/** Outcome label of a call: "ok", or the `_tag` of its typed error. */
export const outcomeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" ? error._tag : "error"

export const recordJobStarted = Metric.increment(jobsStarted)

/** Jobs the poller admitted itself (src/telegram/intake/lone-photos.ts); each is a started job too. */
export const recordLonePhotosAdmitted = (count: number) =>
  Effect.all([Metric.incrementBy(jobsStarted, count), Metric.incrementBy(lonePhotosAdmitted, count)], { discard: true })

export const recordJobDelivered = (timings: { readonly generationMs?: number; readonly deliveryMs?: number } = {}) =>
  Effect.all([
    Metric.increment(jobsDelivered),
    timings.generationMs === undefined ? Effect.void : Metric.update(generationSeconds, timings.generationMs / 1000),
    timings.deliveryMs === undefined ? Effect.void : Metric.update(deliverySeconds, timings.deliveryMs / 1000)
  ], { discard: true })

/**
 * For the job driver, right after its `delivering → delivered` transition succeeded:
 * counts the delivery and times it from the job's row (generation: created → KIE success;
 * delivery: KIE success → now, on the Effect clock).
 */
export const recordDelivery = (job: {
  readonly created_at_ms: number | null
  readonly kie_succeeded_at_ms: number | null
}) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    recordJobDelivered({
      ...(job.created_at_ms !== null && job.kie_succeeded_at_ms !== null
        ? { generationMs: job.kie_succeeded_at_ms - job.created_at_ms }
        : {}),
      ...(job.kie_succeeded_at_ms !== null ? { deliveryMs: now - job.kie_succeeded_at_ms } : {})
    }))

export const recordJobRefunded = (errorClass: string) =>
  Metric.increment(Metric.tagged(jobsRefunded, "error_class", errorClass))

export const recordKieCall = (endpoint: string, outcome: string) =>
  Metric.increment(Metric.taggedWithLabels(kieCalls, [
    MetricLabel.make("endpoint", endpoint),
    MetricLabel.make("outcome", outcome)
  ]))

export const recordTelegramCall = (method: string, outcome: string) =>
  Metric.increment(Metric.taggedWithLabels(telegramCalls, [
    MetricLabel.make("method", method),
    MetricLabel.make("outcome", outcome)
  ]))

export const recordPayment = (outcome: "credited" | "refunded", stars: number) =>
  Effect.all([
    Metric.increment(Metric.tagged(payments, "outcome", outcome)),
    outcome === "credited" ? Metric.incrementBy(paymentStars, stars) : Effect.void
  ], { discard: true })

/** Counts each attempt of `self` under KIE `endpoint`: ok, or the class of its error. */
export const countKieCall = (endpoint: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.tapBoth(self, {
    onSuccess: () => recordKieCall(endpoint, "ok"),
    onFailure: (error) => recordKieCall(endpoint, outcomeOf(error))
  })

/** Counts each attempt of `self` as a Bot API `method` call: ok, or the class of its error. */
export const countTelegramCall = (method: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.tapBoth(self, {
    onSuccess: () => recordTelegramCall(method, "ok"),
    onFailure: (error) => recordTelegramCall(method, outcomeOf(error))
  })
