import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join, sep } from "node:path"

// The simulator holds its own made-up key to check requests against; it is not ours.
const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return path === join("src", "sim") ? [] : sourceFiles(path)
    return entry.name.endsWith(".ts") ? [path] : []
  })

const lines = sourceFiles("src").flatMap((file) =>
  readFileSync(file, "utf8").split("\n").map((text, index) => ({ where: `${file}:${index + 1}`, text: text.trim() }))
)

// Every way the key may appear in src, each harmless: declared, read from the
// environment as Redacted, checked for presence, passed on as Redacted, set as the header.
const allowed: ReadonlyArray<RegExp> = [
  /^readonly apiKey: Option\.Option<Redacted\.Redacted<string>>$/,
  /^apiKey: optionalRedacted\("KIE_API_KEY"\),$/,
  /^readonly apiKey: Redacted\.Redacted<string>$/,
  /^HttpClientRequest\.bearerToken\(settings\.apiKey\),$/,
  /^if \(Option\.isNone\(config\.kie\.apiKey\)\) \{$/,
  /^return yield\* Effect\.fail\(ConfigError\.MissingData\(\["KIE_API_KEY"\], "KIE_API_KEY must be set to talk to KIE"\)\)$/,
  /^apiKey: config\.kie\.apiKey\.value,$/,
  // The sandbox's all-or-nothing rule (src/config/index.ts): a presence check and messages naming the variable.
  /^const hasKey = Option\.isSome\(settings\.kie\.apiKey\)$/,
  /^const sandbox = "the sandbox runs only when neither TELEGRAM_BOT_TOKEN nor KIE_API_KEY is set"$/,
  /^hasToken && !hasKey \? `KIE_API_KEY must be set when TELEGRAM_BOT_TOKEN is set \(\$\{sandbox\}\)` : undefined,$/,
  /^hasKey && !hasToken \? `TELEGRAM_BOT_TOKEN must be set when KIE_API_KEY is set \(\$\{sandbox\}\)` : undefined,$/
]

describe("the KIE API key cannot leak", () => {
  it("is referenced in src only where it is declared, passed on as Redacted, or set as the Authorization header", () => {
    const mentions = lines.filter(({ text }) => /\bapiKey\b|api_key|KIE_API_KEY/.test(text) && !/^(\*|\/\/|\/\*\*)/.test(text))
    expect(mentions.length).toBeGreaterThan(0)
    const unexpected = mentions.filter(({ text }) => !allowed.some((pattern) => pattern.test(text)))
    expect(unexpected).toEqual([])
  })

  it("is never unwrapped with Redacted.value: the header is set from the Redacted itself", () => {
    const unwraps = lines.filter(({ text }) => /Redacted\.value\([^)]*(apiKey|api_key)/i.test(text))
    expect(unwraps).toEqual([])
    const bearer = lines.filter(({ text }) => text.includes("bearerToken("))
    expect(bearer.map(({ where }) => where.split(":")[0])).toEqual([join("src", "kie", "kie-client.ts")])
  })

  it("is not read from the environment outside the configuration module", () => {
    const direct = lines.filter(({ text, where }) => /process\.env/.test(text) && /KIE/.test(text) && !where.startsWith(join("src", "config") + sep))
    expect(direct).toEqual([])
  })

  it("does not reach logs, errors or stored rows through the KIE client's own code", () => {
    const client = readFileSync(join("src", "kie", "kie-client.ts"), "utf8")
    // The classifier only sees status, body and transport detail, never the request.
    expect(client).not.toMatch(/classify\([^)]*request/)
    expect(client).not.toMatch(/Effect\.log\w*\([^)]*(settings|apiKey)/)
  })
})
