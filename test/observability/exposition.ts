/** A reader for the Prometheus text exposition (samples by name and labels, help texts), and a scraper. */
import { HttpServer } from "@effect/platform"
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
