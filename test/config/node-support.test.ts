/**
 * The Node.js lines the project claims: `engines` admits the supported LTS lines only (even
 * majors from 22; Node 20 ended in April 2026), and README's Quick start names the same ones.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

const engines = (JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string } }).engines.node
const readme = readFileSync("README.md", "utf8")

/** The majors of a range written as `^M.m.p || ^M.m.p …`, the one form used here. */
const majorsOf = (range: string) =>
  range.split("||").map((part) => {
    const match = /^\s*\^(\d+)\.\d+\.\d+\s*$/.exec(part)
    if (match === null) throw new Error(`engines.node part "${part}" is not of the form ^M.m.p`)
    return Number(match[1])
  })

describe("supported Node.js lines", () => {
  it("engines admits LTS lines (even majors) from 22 on, not the ended 20", () => {
    const majors = majorsOf(engines)
    expect(majors.length).toBeGreaterThan(0)
    for (const major of majors) {
      expect(major % 2, `Node ${major} is not an LTS line`).toBe(0)
      expect(major).toBeGreaterThanOrEqual(22)
    }
  })

  it("README names the same lines as engines", () => {
    const line = /\*\*Node\.js\*\*: the supported LTS lines, ([\d, and]+) \(/.exec(readme)
    expect(line, "README's Quick start has no **Node.js** line").not.toBeNull()
    const named = line![1]!.split(/,\s*|\s+and\s+/).map(Number)
    expect(named).toEqual(majorsOf(engines))
  })
})
