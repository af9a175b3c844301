/**
 * What an entity costs in CPU, apart from anything it does: a volatile message to an entity
 * that must first be built, the same message to one that lives, and the reaping of an idle
 * one. @effect/cluster 0.60 on its in-memory TestRunner (no SQL, no socket), with an entity
 * whose handler only adds one, so every microsecond here is the cluster's and Effect's.
 *
 * It is the floor under a photo's admission: the photo activates its user's entity, and its
 * job's entity is activated twice more (the submission, the delivery), each reaped after
 * (BENCHMARKS.md).
 *
 *   npm run bench:entity-lifecycle -- [entities=5000]
 */
import { ClusterMetrics, Entity, TestRunner } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Duration, Effect, Layer, Metric, Schema } from "effect"
import { fmt, machine, table, writeResult } from "./support.js"

const entities = Number(process.argv[2] ?? 5_000)
const concurrency = 64

const Ping = Rpc.make("Ping", { payload: { n: Schema.Number }, success: Schema.Number })
const Probe = Entity.make("Probe", [Ping])
const ProbeLive = Probe.toLayer(Effect.succeed({ Ping: ({ payload }) => Effect.succeed(payload.n + 1) }), {
  maxIdleTime: Duration.seconds(1)
})

/** The process's CPU time so far (user + system), in microseconds. */
const cpuMicros = Effect.sync(() => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
})

const liveProbes = Metric.value(ClusterMetrics.entities.pipe(Metric.tagged("type", Probe.type))).pipe(
  Effect.map((state) => Number(state.value))
)

/** CPU of `effect`, in microseconds, and its wall time in milliseconds. */
const measured = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const cpuBefore = yield* cpuMicros
    const wallBefore = performance.now()
    yield* effect
    return { cpu: (yield* cpuMicros) - cpuBefore, wallMs: performance.now() - wallBefore }
  })

const round = (label: string) =>
  Effect.gen(function*() {
    const client = yield* Probe.client
    const ids = Array.from({ length: entities }, (_, i) => `${label}-${i}`)
    const pingAll = Effect.forEach(ids, (id, n) => client(id).Ping({ n }), { concurrency, discard: true })

    // The reaper looks every 5 s (@effect/cluster: its resolution is at least 5 s), so a quiet
    // stretch of the same length is the baseline taken off the reaping's CPU.
    const quiet = yield* measured(Effect.sleep(Duration.seconds(6)))
    const fresh = yield* measured(pingAll)
    const live = yield* measured(pingAll)
    const reaping = yield* measured(
      Effect.sleep(Duration.millis(250)).pipe(Effect.zipRight(liveProbes), Effect.repeat({ until: (n) => n === 0 }))
    )
    const quietPerMs = quiet.cpu / quiet.wallMs
    return {
      label,
      freshMicros: fresh.cpu / entities,
      liveMicros: live.cpu / entities,
      reapMicros: Math.max(0, reaping.cpu - quietPerMs * reaping.wallMs) / entities,
      quietCpuPercent: quietPerMs / 10
    }
  })

const program = Effect.gen(function*() {
  // A first round warms the JIT; its figures are not shown.
  yield* round("warm-up")
  const traced = yield* round("traced")
  const untraced = yield* round("untraced").pipe(Effect.withTracerEnabled(false))
  return [traced, untraced]
})

const results = await program.pipe(
  Effect.provide(ProbeLive.pipe(Layer.provideMerge(TestRunner.layer))),
  Effect.runPromise
)

console.log(`\n### entity lifecycle: ${entities} entities, ${concurrency} messages at a time (${JSON.stringify(machine())})\n`)
console.log(table(
  ["CPU per entity (µs)", ...results.map((r) => r.label === "traced" ? "spans made (the runner)" : "tracer off")],
  [
    ["a message that builds its entity", ...results.map((r) => fmt(r.freshMicros, 0))],
    ["a message to a live entity", ...results.map((r) => fmt(r.liveMicros, 0))],
    ["the reaping of an idle entity", ...results.map((r) => fmt(r.reapMicros, 0))],
    ["a whole lifecycle (build, one message, reaping)", ...results.map((r) => fmt(r.freshMicros + r.reapMicros, 0))]
  ]
))
console.log(`\n(JSON: ${writeResult("entity-lifecycle", { machine: machine(), entities, concurrency, results })})`)
process.exit(0)
