/**
 * Every metric the operators' docs name (README "What to monitor", docs/operations.md),
 * present on `/metrics` from start-up: counters at 0 with the label sets they can take,
 * gauges at their resting value, histograms empty. A series that appears only with its
 * first event cannot be alerted on (`rate()` of a missing series is no data, not 0), and an
 * operator cannot tell a quiet runner from one that never exports the metric. The
 * process's metrics (`process_*`, `nodejs_*`) are prom-client's and there from its start
 * (src/observability/process-metrics.ts).
 */
import { Effect, Metric, MetricLabel } from "effect"
import { runnerConnectionsRefused } from "../cluster/transport.js"
import type { KieOperation } from "../errors/kie-errors.js"
import type { FailureClass } from "../errors/failure-class.js"
import { PromoRefusalReason } from "../errors/growth-errors.js"
import { progressMessagesWaiting } from "../jobs/job-acknowledgement.js"
import { transfersInProgress, transfersWaiting } from "../jobs/transfer-permits.js"
import { openGauge as kieCircuitOpen, tripCounter as kieCircuitTrips } from "../kie/circuit-breaker.js"
import { retentionRowsDeleted } from "../storage/retention.js"
import type { JobFailure } from "../domain/job-failure.js"
import {
  deliverySeconds,
  generationSeconds,
  jobDriverDeaths,
  jobsDelivered,
  jobsInFlight,
  jobsRefunded,
  jobsStarted,
  kieCalls,
  lonePhotosAdmitted,
  oldestUnhandledUpdateSeconds,
  payments,
  paymentStars,
  promoRedemptions,
  referralBonuses,
  rateLimitsLocal,
  rateLimitsOutages,
  shardsHeld,
  telegramCalls,
  updatesRetried,
  updatesSetAside,
  updatesUnhandled
} from "./metrics.js"

// Records keyed by the union: a class added to (or dropped from) the union fails to compile here.
const refundClasses: Record<JobFailure["_tag"], null> = {
  KieUserError: null,
  KieTransientError: null,
  KieOperatorError: null,
  KieUnknownError: null,
  Deadline: null,
  PhotoUnavailable: null,
  DeliveryFailed: null,
  Cancelled: null,
  InternalError: null
}
const failureClasses: Record<FailureClass, null> = { transient: null, deterministic: null, unknown: null }
const kieEndpoints: Record<KieOperation, null> = { upload: null, createTask: null, recordInfo: null, credits: null }
/** The Bot API methods the gateway calls (src/telegram/gateway-live.ts); errors add their own series. */
const telegramMethods = [
  "sendMessage",
  "editMessageText",
  "sendVideo",
  "sendChatAction",
  "deleteMessage",
  "getFile",
  "sendInvoice",
  "answerPreCheckoutQuery",
  "refundStarPayment",
  "getStarTransactions"
] as const
const retentionTables = ["cluster_messages", "cluster_replies", "job_events"] as const

type Counter = Metric.Metric.Counter<number>
type Gauge = Metric.Metric.Gauge<number>

const present = (metric: Counter | Gauge) => Metric.incrementBy(metric, 0)
const withLabel = (metric: Counter, key: string, values: Iterable<string>) =>
  [...values].map((value) => present(Metric.tagged(metric, key, value)))
const withLabels = (metric: Counter, labels: ReadonlyArray<Record<string, string>>) =>
  labels.map((set) =>
    present(Metric.taggedWithLabels(metric, Object.entries(set).map(([key, value]) => MetricLabel.make(key, value))))
  )

/** Registers the docs' metrics without changing any value (a gauge moves by 0). */
export const declareDocumentedMetrics = Effect.all([
  ...[jobsStarted, lonePhotosAdmitted, jobsDelivered, updatesRetried, paymentStars, rateLimitsOutages, kieCircuitTrips, runnerConnectionsRefused]
    .map(present),
  ...[
    jobsInFlight,
    updatesUnhandled,
    oldestUnhandledUpdateSeconds,
    shardsHeld,
    rateLimitsLocal,
    kieCircuitOpen,
    transfersInProgress,
    transfersWaiting,
    progressMessagesWaiting
  ].map(present),
  ...withLabel(jobsRefunded, "error_class", Object.keys(refundClasses)),
  ...withLabel(updatesSetAside, "failure_class", Object.keys(failureClasses)),
  ...withLabel(jobDriverDeaths, "failure_class", Object.keys(failureClasses)),
  ...withLabel(payments, "outcome", ["credited", "refunded"]),
  ...withLabel(promoRedemptions, "outcome", ["redeemed", ...PromoRefusalReason.literals]),
  ...withLabel(referralBonuses, "outcome", ["granted", "capped", "disabled"]),
  ...withLabel(retentionRowsDeleted, "table", retentionTables),
  ...withLabels(kieCalls, Object.keys(kieEndpoints).map((endpoint) => ({ endpoint, outcome: "ok" }))),
  ...withLabels(telegramCalls, telegramMethods.map((method) => ({ method, outcome: "ok" }))),
  Metric.value(generationSeconds),
  Metric.value(deliverySeconds)
], { discard: true })
