/**
 * `/metrics` against what operators read: every metric the docs name is there from
 * start-up (before any job, payment or failure) with a help text and the labels the docs
 * give it, the process's metrics included; each family is declared once; no series carries `otel_scope_name`; Effect's fiber metrics are not exported;
 * and the example alert rules (docs/prometheus-alerts.yml) use only metrics and labels
 * that exist.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { jobRunnerLayer, startSimulators } from "../support/job-harness.js"
import { helpTexts, metricsServer, parseExposition, repeatedFamilies, type Sample } from "./exposition.js"

/** Metric names (with their documented labels) in README's "What to monitor" and in docs/operations.md. */
const documentedMetrics = () => {
  const readme = readFileSync("README.md", "utf8")
  const start = readme.indexOf("**What to monitor.**")
  const section = readme.slice(start, readme.indexOf("**Rolling deploy.**", start))
  assert.isAbove(section.length, 100, "README has a What to monitor section")
  const operations = readFileSync("docs/operations.md", "utf8")
  const metricName = /^([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?:\{([a-z_,]+)\})?$/
  // Backticked words in the section that name tables, not metrics.
  const tables = new Set(["dead_letter_updates"])
  const found = new Map<string, Set<string>>()
  const add = (token: string, accept: (name: string) => boolean) => {
    const match = metricName.exec(token)
    if (match === null || !accept(match[1]!)) return
    const labels = found.get(match[1]!) ?? new Set<string>()
    for (const label of (match[2] ?? "").split(",").filter((l) => l !== "")) labels.add(label)
    found.set(match[1]!, labels)
  }
  for (const [, token] of section.matchAll(/`([^`]+)`/g)) add(token!, (name) => !tables.has(name))
  for (const [, token] of operations.matchAll(/`([^`]+)`/g)) add(token!, (name) => /_(total|seconds|degraded)$/.test(name))
  // docs/analytics.md: the first column of the table in its /metrics section.
  const analytics = readFileSync("docs/analytics.md", "utf8")
  const metricsSection = analytics.slice(analytics.indexOf("## `GET /metrics`"), analytics.indexOf("## Logs"))
  assert.include(metricsSection, "| metric | type | labels |")
  for (const [, cell] of metricsSection.matchAll(/^\| (`[^|]+`) \|/gm)) {
    for (const [, token] of cell!.matchAll(/`([^`]+)`/g)) add(token!, () => true)
  }
  return found
}

/** Each series' family: histogram samples belong to the name without _bucket/_sum/_count. */
const familyOf = (sample: Sample, families: ReadonlySet<string>) =>
  families.has(sample.name) ? sample.name : sample.name.replace(/_(bucket|sum|count)$/, "")

const promqlWords = new Set([
  "sum", "max", "min", "avg", "count", "rate", "increase", "irate", "delta", "deriv", "histogram_quantile",
  "max_over_time", "min_over_time", "avg_over_time", "clamp_min", "abs", "by", "without", "on", "ignoring",
  "group_left", "group_right", "and", "or", "unless", "offset", "bool"
])
/** Metrics Prometheus makes itself, not the runner. */
const scrapeMetrics = new Set(["up"])

/** The metric names and label matchers an alert expression uses. */
const selectorsOf = (expr: string) => {
  const selectors: Array<{ metric: string; labels: Array<string> }> = []
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, "\"\"")
  const withoutGroupings = withoutStrings.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "$1")
  for (const match of withoutGroupings.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?/g)) {
    const [, word, matchers, call] = match
    if (call !== undefined || promqlWords.has(word!) || /^\d/.test(word!)) continue
    // Durations and offsets: `[30m]`, `offset 30m` (the "m" after a number is not a metric).
    const before = withoutGroupings.slice(0, match.index)
    if (/\d$/.test(before) || /\[[^\]]*$/.test(before)) continue
    const labels = [...(matchers ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((m) => m[1]!)
    selectors.push({ metric: word!, labels })
  }
  return selectors
}

describe("/metrics matches the docs", () => {
  it.scoped("from start-up: every documented metric with help and labels; each family once; no scope label; no fiber metrics; the alert rules' names exist", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators("sqlite")
      yield* Effect.gen(function*() {
        const scrape = yield* metricsServer
        const text = (yield* scrape).text
        const samples = parseExposition(text)
        const help = helpTexts(text)
        const families = new Set(help.keys())

        for (const [name, labels] of documentedMetrics()) {
          assert.isTrue(families.has(name), `${name} (named in the docs) is not on /metrics at start-up`)
          const text = help.get(name) ?? ""
          assert.isTrue(text !== "" && text !== "description missing", `${name} has no help text`)
          const series = samples.filter((sample) => familyOf(sample, families) === name)
          assert.isAbove(series.length, 0, `${name} has no sample`)
          for (const label of labels) {
            assert.isTrue(series.some((sample) => label in sample.labels), `${name} has no series with label ${label}`)
          }
        }
        for (const [name, text] of help) {
          assert.isTrue(text !== "" && text !== "description missing", `${name} has no help text`)
          assert.isFalse(name.startsWith("effect_fiber_"), `${name} is exported`)
        }
        assert.deepStrictEqual(samples.filter((sample) => "otel_scope_name" in sample.labels), [])
        // One document: Effect's families and the process's (prom-client) never share a name.
        assert.deepStrictEqual(repeatedFamilies(text), [])

        const rules = readFileSync("docs/prometheus-alerts.yml", "utf8")
        const expressions = [...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!)
        const alerts = [...rules.matchAll(/^\s+- alert: (\S+)$/gm)]
        assert.isAbove(alerts.length, 5)
        assert.strictEqual(expressions.length, alerts.length, "every alert has a one-line expr")
        for (const expr of expressions) {
          const selectors = selectorsOf(expr)
          assert.isAbove(selectors.length, 0, expr)
          for (const { metric, labels } of selectors) {
            if (scrapeMetrics.has(metric)) continue
            const series = samples.filter((sample) => sample.name === metric)
            assert.isAbove(series.length, 0, `${metric} in "${expr}" is not on /metrics`)
            for (const label of labels) {
              assert.isTrue(series.some((sample) => label in sample.labels), `${metric} has no label ${label} ("${expr}")`)
            }
          }
        }
      }).pipe(Effect.provide(jobRunnerLayer(sims.settings)))
    }))
})
