/**
 * Tests lean on the product, never the other way round: src/, bench/ and scripts/ import
 * nothing from test/, so a change to a test helper cannot break the bot or a benchmark.
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const root = resolve(import.meta.dirname, "..")

// `import … from "x"`, `export … from "x"`, `import "x"` and `import("x")`, across lines.
const specifierPattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g

const importsOfTest = (folder: string) =>
  readdirSync(join(root, folder), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => join(folder, file))
    .flatMap((file) =>
      [...readFileSync(join(root, file), "utf8").matchAll(specifierPattern)]
        .map((match) => match[1]!)
        .filter((specifier) => specifier.startsWith("."))
        .filter((specifier) => relative(root, resolve(root, dirname(file), specifier)).split("\\")[0]!.startsWith("test"))
        .map((specifier) => `${file} → ${specifier}`)
    )

describe("layout", () => {
  it.each(["src", "bench", "scripts"])("%s/ imports nothing from test/", (folder) => {
    expect(importsOfTest(folder)).toEqual([])
  })
})
