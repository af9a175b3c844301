/** A reader for the Prometheus text exposition (samples by name and labels, help texts), checks of it, and a scraper. */
import { HttpServer } from "@effect/platform"
import { assert } from "@effect/vitest"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:http"
import { MetricsRoutes } from "../../src/http/metrics.js"
import { AppRouter } from "../../src/http/router.js"

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export const parseExposition = (text: string): ReadonlyArray<Sample> =>
  text.split("\n").flatMap((line) => {
    if (line.startsWith("#") || line.trim() === "") return []
    const match = sampleLine.exec(line)
    if (!match) throw new Error(`not an exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? "").matchAll(labelPair)) labels[pair[1]!] = pair[2]!
    return [{ name: match[1]!, labels, value: Number(match[3]) }]
  })

/** The value of the one sample with this name whose labels include `labels`; 0 when absent. */
export const valueOf = (
  samples: ReadonlyArray<Sample>,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number => {
  const found = samples.filter((sample) =>
    sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
  )
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value ?? 0
}

/** `# HELP` texts by metric family. */
export const helpTexts = (text: string): ReadonlyMap<string, string> =>
  new Map(text.split("\n").flatMap((line) => {
    const match = /^# HELP (\S+) ?(.*)$/.exec(line)
    return match === null ? [] : [[match[1]!, match[2]!] as const]
  }))

/**
 * Families declared more than once or interleaved with another (a Prometheus scrape rejects
 * both): each line's family (histogram samples count as theirs), listed again after another began.
 */
export const repeatedFamilies = (text: string): ReadonlyArray<string> => {
  const families = new Set(helpTexts(text).keys())
  const seen = new Set<string>()
  const repeated: Array<string> = []
  let current: string | undefined
  for (const line of text.split("\n")) {
    const declared = /^# (?:HELP|TYPE) (\S+)/.exec(line)?.[1]
    const sample = line.startsWith("#") || line.trim() === "" ? undefined : /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0]
    const name = declared ?? sample
    if (name === undefined) continue
    const family = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "")
    const isHelp = line.startsWith("# HELP ")
    if (family !== current || isHelp) {
      if (seen.has(family)) repeated.push(family)
      seen.add(family)
      current = family
    }
  }
  return repeated
}

/**
 * The process's metrics (prom-client's default collectors), with values a live Node process
 * has: CPU used, memory held, an event-loop delay of seconds, every GC kind.
 */
export const assertProcessMetrics = (text: string) => {
  const samples = parseExposition(text)
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m)
  assert.isAbove(valueOf(samples, "process_cpu_seconds_total"), 0)
  assert.isAbove(valueOf(samples, "process_resident_memory_bytes"), 10 * 1024 * 1024)
  assert.isAbove(valueOf(samples, "nodejs_heap_size_used_bytes"), 0)
  for (const name of ["nodejs_eventloop_lag_p99_seconds", "nodejs_eventloop_lag_max_seconds"]) {
    const seconds = valueOf(samples, name)
    assert.isTrue(Number.isFinite(seconds) && seconds >= 0 && seconds < 60, `${name} = ${seconds}`)
  }
  assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m)
  for (const kind of ["minor", "major", "incremental", "weakcb"]) {
    assert.isTrue(
      samples.some((sample) => sample.name === "nodejs_gc_duration_seconds_count" && sample.labels.kind === kind),
      `no nodejs_gc_duration_seconds series of kind ${kind}`
    )
  }
  assert.deepStrictEqual(repeatedFamilies(text), [])
}

/** Serves only /metrics on a free loopback port, on the runner in context; yields a scraper. */
export const metricsServer = Effect.gen(function*() {
  const context = yield* Layer.build(
    AppRouter.serve().pipe(
      Layer.provide(MetricsRoutes),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  const url = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}/metrics` : ""
  return Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
  })
})
