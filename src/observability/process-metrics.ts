/**
 * The process's own metrics (CPU, memory, heap, event-loop delay, GC, handles, file
 * descriptors) from prom-client's default collectors, on a registry of their own: nothing
 * registers into prom-client's global registry, so no other module can add to or clash
 * with what `/metrics` exports. PrometheusExposition appends this text to Effect's.
 */
import { Context, Effect, Layer } from "effect"
import { collectDefaultMetrics, type Histogram, Registry } from "prom-client"

/** The `kind` label values prom-client gives `nodejs_gc_duration_seconds`. */
const gcKinds = ["minor", "major", "incremental", "weakcb"] as const

const startCollectors = (): Registry => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  // A labelled histogram has no series until its first observation: each GC kind is
  // declared at 0, so alert rules over it see 0 and not "no data" (src/observability/metric-catalog.ts).
  const gc = registry.getSingleMetric("nodejs_gc_duration_seconds") as Histogram<"kind"> | undefined
  for (const kind of gcKinds) gc?.zero({ kind })
  return registry
}

// The collectors start a GC observer and an event-loop delay histogram that cannot be
// stopped, and they describe the process, not a runner: one set per process, however
// many times the layer is built (tests build a runner per test).
let processRegistry: Registry | undefined

export class ProcessMetrics extends Context.Tag("app/ProcessMetrics")<
  ProcessMetrics,
  { readonly render: Effect.Effect<string> }
>() {
  static readonly layer = Layer.sync(ProcessMetrics, () => {
    processRegistry ??= startCollectors()
    const registry = processRegistry
    return { render: Effect.promise(() => registry.metrics()) }
  })
}
