/**
 * Effect's metric registry in Prometheus text format, through OpenTelemetry: the producer
 * of @effect/opentelemetry reads the registry, and the Prometheus exporter's serializer
 * writes the exposition. No OTel reader or listener is started; each scrape collects once.
 *
 * Every family has a help text: the library metrics that come without one get theirs
 * here. Effect's fiber metrics (`effect_fiber_*`) are not exported: they count every
 * fiber of the runtime, and `effect_fiber_failures` counts each fiber that ends by
 * interruption (a lost race, a timeout, a closed scope) as a failure, so on a healthy
 * runner it reads like an error rate. Failures that matter have their own counters.
 *
 * The process's metrics (CPU, memory, event loop, GC) follow in the same document, from
 * prom-client (src/observability/process-metrics.ts); their names (`process_*`,
 * `nodejs_*`) are not used by Effect's metrics.
 */
import { Metrics, Resource } from "@effect/opentelemetry"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import type { ResourceMetrics } from "@opentelemetry/sdk-metrics"
import { Context, Effect, Layer } from "effect"
import { ProcessMetrics } from "./process-metrics.js"

/** Help for metrics defined by libraries without a description (@effect/cluster). */
export const libraryHelp: Readonly<Record<string, string>> = {
  effect_cluster_entities: "entities in memory on this runner, by entity type (@effect/cluster)",
  effect_cluster_singletons: "cluster singletons running on this runner (@effect/cluster)",
  effect_cluster_shards: "shards this runner has acquired (@effect/cluster; the same as shards_held)",
  effect_cluster_runners: "1 once this process has registered as a runner (@effect/cluster; not a count of the cluster)",
  effect_cluster_runners_healthy: "1 while the cluster's health check counts this runner healthy (@effect/cluster)"
}

const notExported = (name: string) => name.startsWith("effect_fiber_")

/** The collected metrics without the unexported ones, every family with a description. */
export const describedForExport = (resourceMetrics: ResourceMetrics): ResourceMetrics => ({
  ...resourceMetrics,
  scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
    ...scope,
    metrics: scope.metrics
      .filter((metric) => !notExported(metric.descriptor.name))
      .map((metric) =>
        metric.descriptor.description !== ""
          ? metric
          : { ...metric, descriptor: { ...metric.descriptor, description: libraryHelp[metric.descriptor.name] ?? "" } }
      )
  }))
})

export class PrometheusExposition extends Context.Tag("app/PrometheusExposition")<
  PrometheusExposition,
  { readonly render: Effect.Effect<string> }
>() {
  static readonly make = Effect.gen(function*() {
    const producer = yield* Metrics.makeProducer
    const processMetrics = yield* ProcessMetrics
    // Plain metric names (no prefix), no timestamps; the resource becomes target_info; no
    // `otel_scope_name` label on every series (there is one scope: Effect's registry).
    const serializer = new PrometheusSerializer("", false, undefined, false, true)
    const effectMetrics = Effect.promise(() => producer.collect()).pipe(
      Effect.map((result) => serializer.serialize(describedForExport(result.resourceMetrics)))
    )
    const render = Effect.zipWith(
      effectMetrics,
      processMetrics.render,
      (effectText, processText) => `${effectText.trimEnd()}\n${processText}`
    ).pipe(Effect.withSpan("Metrics.render"))
    return { render }
  })

  static readonly layer = Layer.effect(PrometheusExposition, PrometheusExposition.make).pipe(
    Layer.provide([Resource.layer({ serviceName: "photo-video-bot" }), ProcessMetrics.layer])
  )
}
