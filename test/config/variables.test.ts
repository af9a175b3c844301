import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith(".ts") ? [path] : []
  })

const configDir = join("src", "config")

// A reader is Effect's Config constructor or one of src/config/parsers.ts, called with the variable's name.
const reader =
  /\b(?:Config\.\w+(?:\([^()]*\))?|parsed|optionalParsed|optionalRedacted|integerIn|durationIn|optionalDurationIn|longDurationIn|httpUrl|optionalHttpUrl|literal|plainString)\(\s*"([A-Z][A-Z0-9_]+)"/g

const readsIn = (file: string) => [...readFileSync(file, "utf8").matchAll(reader)].map((match) => match[1]!)

const configFiles = sourceFiles(configDir)
const reads = configFiles.flatMap(readsIn)

const documented = readFileSync("README.md", "utf8")
  .split("\n")
  .filter((line) => line.startsWith("| `"))
  .flatMap((line) => [...line.split("|")[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!))

describe("environment variables", () => {
  it("each is read by exactly one reader, in src/config/", () => {
    assert.isAbove(reads.length, 40)
    assert.deepStrictEqual(reads.filter((name, index) => reads.indexOf(name) !== index), [])
    const elsewhere = sourceFiles("src")
      .filter((file) => !file.startsWith(configDir) && !file.startsWith(join("src", "sim")))
      .flatMap((file) => readsIn(file).map((name) => `${file}: ${name}`))
    assert.deepStrictEqual(elsewhere, [])
  })

  it("the README's table lists exactly the variables that are read", () => {
    assert.deepStrictEqual([...documented].sort(), [...reads].sort())
  })
})
