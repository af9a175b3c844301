/**
 * Argument parsing and the side-by-side table shared by the benchmark commands.
 *   --jobs 2000 --gen 0,5 --systems runner,peer --timeout 300
 */
import type { Outcome } from "./scenario.js"
import { fmt, table } from "./support.js"

export const args = (defaults: Record<string, string>) => {
  const out = { ...defaults }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    if (!flag.startsWith("--")) continue
    const [name, inline] = flag.slice(2).split("=", 2) as [string, string | undefined]
    out[name] = inline ?? argv[++i] ?? ""
  }
  return out
}

export const list = (value: string) => value.split(",").map((v) => v.trim()).filter((v) => v !== "")

const ratio = (runner: number, peer: number) =>
  Number.isFinite(runner) && Number.isFinite(peer) && peer !== 0 ? `${(runner / peer).toFixed(2)}×` : "–"

export interface Row {
  readonly name: string
  readonly value: (o: Outcome) => number
  readonly digits?: number
}

/** One table: a column per outcome, and runner ÷ peer when both ran the same workload. */
export const sideBySide = (outcomes: ReadonlyArray<Outcome>, rows: ReadonlyArray<Row>) => {
  const runner = outcomes.find((o) => o.system === "runner")
  const peer = outcomes.find((o) => o.system === "peer")
  const header = ["figure", ...outcomes.map((o) =>
    o.system === "peer" ? "BullMQ peer" : (o.workload.runners ?? 1) > 1 ? `${o.workload.runners} runners (src/main.ts)` : "runner (src/main.ts)"
  ), ...(runner && peer ? ["runner ÷ peer"] : [])]
  return table(header, rows.map((row) => [
    row.name,
    ...outcomes.map((o) => fmt(row.value(o), row.digits ?? 1)),
    ...(runner && peer ? [ratio(row.value(runner), row.value(peer))] : [])
  ]))
}

export const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`)
