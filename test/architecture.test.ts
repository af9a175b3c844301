/**
 * The shape of src/ as docs/architecture.md describes it: no import cycles (type-only
 * imports count), protocols that depend only on the domain and the errors, comments that
 * cite files in this repository, and no new file past ~300 lines without a reason.
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const root = resolve(import.meta.dirname, "..")

const sourceFiles = (folder: string): ReadonlyArray<string> =>
  readdirSync(join(root, folder), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => join(folder, file).split("\\").join("/"))
    .sort()

const src = sourceFiles("src")
const read = (file: string) => readFileSync(join(root, file), "utf8")

// `import … from "x"`, `export … from "x"`, `import "x"` and `import("x")`, across lines.
const specifierPattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g

/** The src/ files a file imports by relative path, `.js` written for the `.ts` beside it. */
const localImports = (file: string): ReadonlyArray<string> =>
  [...read(file).matchAll(specifierPattern)]
    .map((match) => match[1]!)
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => relative(root, resolve(root, dirname(file), specifier)).split("\\").join("/"))
    .map((target) => target.replace(/\.js$/, ".ts"))
    .map((target) => src.includes(target) ? target : `${target}/index.ts`)

const graph = new Map(src.map((file) => [file, localImports(file)]))

/** Every cycle's path, found once from its first file in a depth-first walk. */
const findCycles = (): ReadonlyArray<ReadonlyArray<string>> => {
  const cycles: Array<Array<string>> = []
  const done = new Set<string>()
  const path: Array<string> = []
  const visit = (file: string) => {
    const onPath = path.indexOf(file)
    if (onPath >= 0) {
      cycles.push([...path.slice(onPath), file])
      return
    }
    if (done.has(file)) return
    path.push(file)
    for (const next of graph.get(file) ?? []) visit(next)
    path.pop()
    done.add(file)
  }
  for (const file of src) visit(file)
  return cycles
}

/** Files allowed past 300 lines, each with why it stays whole. */
const bigFiles: Record<string, string> = {
  "src/sim/kie/simulator.ts": "test double of the whole KIE API; one route table",
  "src/sim/telegram/bot-methods.ts": "test double: one handler per Bot API method",
  "src/sim/telegram/updates.ts": "test double: builders for every update kind the bot reads",
  "src/sim/telegram/payments.ts": "test double: invoices, pre-checkout, Star transactions and refunds",
  "src/sim/telegram/simulator.ts": "test double: the simulator's server and its observable state",
  "src/telegram/gateway-live.ts": "every outgoing Bot API call with its own limits and retries"
}

describe("architecture", () => {
  it("src/ has no import cycle", () => {
    const cycles = findCycles().map((cycle) => cycle.join(" → "))
    expect(cycles).toEqual([])
  })

  it("relative imports resolve to files in src/", () => {
    const missing = [...graph].flatMap(([file, targets]) =>
      targets.filter((target) => !src.includes(target)).map((target) => `${file} → ${target}`)
    )
    expect(missing).toEqual([])
  })

  it("entity protocols import only the domain and the errors", () => {
    const protocols = src.filter((file) => file.startsWith("src/protocols/"))
    expect(protocols.length).toBeGreaterThan(0)
    const outside = protocols.flatMap((file) =>
      graph.get(file)!
        .filter((target) => !/^src\/(domain|errors|protocols)\//.test(target))
        .map((target) => `${file} → ${target}`)
    )
    expect(outside).toEqual([])
  })

  it("comments cite only files in this repository", () => {
    const outsideDocuments = /\.\.\/shared|cluster-notes|kie-api\.md|telegram\.md|design\.md|conventions\.md|\(P\d+\)|\bP\d+\b\)/
    const citing = [...src, ...sourceFiles("bench"), ...sourceFiles("scripts")].flatMap((file) =>
      read(file).split("\n").flatMap((line, index) => outsideDocuments.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [])
    )
    expect(citing).toEqual([])
  })

  it("one grammY Api, one token reader, operator alerts and the Api provided once", () => {
    const app = src.filter((file) => !file.startsWith("src/sim/"))
    const where = (pattern: RegExp) => app.filter((file) => pattern.test(read(file)))
    expect(where(/new Api\b/)).toEqual(["src/telegram/api.ts"])
    // The payments secret falls back to a seed derived from the token (src/payments/secret.ts).
    expect(where(/\.botToken\b/).filter((file) => !file.startsWith("src/config/"))).toEqual([
      "src/payments/secret.ts",
      "src/telegram/api.ts"
    ])
    expect(where(/\bOperatorAlertsLive\b/)).toEqual(["src/alerts/operator-alerts.ts", "src/main.ts"])
    expect(where(/\bTelegramApiLive\b/)).toEqual(["src/main.ts", "src/telegram/api.ts"])
    // Shared infrastructure does not live under one of its users.
    expect(where(/export (const|class) (OperatorAlerts|bucketFor|redisOptionsFromUrl)\b/)).toEqual([
      "src/alerts/operator-alerts.ts",
      "src/rate-limits/redis-store.ts",
      "src/rate-limits/token-bucket.ts"
    ])
  })

  it("every exported value in src/ is used somewhere", () => {
    const everything = [...src, ...sourceFiles("test"), ...sourceFiles("bench"), ...sourceFiles("scripts")].map(read).join("\n")
    const unused = src.flatMap((file) =>
      [...read(file).matchAll(/^export (?:async )?(?:const|let|function|class) ([A-Za-z_$][\w$]*)/gm)]
        .map((match) => match[1]!)
        .filter((name) => (everything.match(new RegExp(`\\b${name.replace("$", "\\$")}\\b`, "g")) ?? []).length === 1)
        .map((name) => `${file}: ${name}`)
    )
    expect(unused).toEqual([])
  })

  it("no file in src/ passes 300 lines unless listed with its reason", () => {
    const lineCount = (file: string) => read(file).split("\n").length
    const over = src.filter((file) => lineCount(file) > 300)
    expect(over.filter((file) => !(file in bigFiles))).toEqual([])
    // A listed file that shrank leaves the list, so the list cannot hide a new big file.
    expect(Object.keys(bigFiles).filter((file) => !over.includes(file))).toEqual([])
  })
})
