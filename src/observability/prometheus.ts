/**
 * Effect's metric registry in Prometheus text format, through OpenTelemetry: the producer
 * of @effect/opentelemetry reads the registry, and the Prometheus exporter's serializer
 * writes the exposition. No OTel reader or listener is started; each scrape collects once.
 */
import { Metrics, Resource } from "@effect/opentelemetry"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { Context, Effect, Layer } from "effect"

export class PrometheusExposition extends Context.Tag("app/PrometheusExposition")<
  PrometheusExposition,
  { readonly render: Effect.Effect<string> }
>() {
  static readonly make = Effect.gen(function*() {
    const producer = yield* Metrics.makeProducer
    // Plain metric names (no prefix), no timestamps; the resource becomes target_info.
    const serializer = new PrometheusSerializer("", false)
    const render = Effect.promise(() => producer.collect()).pipe(
      Effect.map((result) => serializer.serialize(result.resourceMetrics)),
      Effect.withSpan("Metrics.render")
    )
    return { render }
  })

  static readonly layer = Layer.effect(PrometheusExposition, PrometheusExposition.make).pipe(
    Layer.provide(Resource.layer({ serviceName: "photo-video-bot" }))
  )
}
