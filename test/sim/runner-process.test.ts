/**
 * A runner that a test, a benchmark or `npm run cluster:local` starts runs with the Node
 * flags of `npm start`, and the operations guide gives a process manager the same command.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { productArguments, runnerNodeFlags } from "../../src/sim/runner-process.js"

const start = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { start: string } }).scripts.start

describe("runner processes", () => {
  it("get the Node flags of npm start; other entry points get none", () => {
    expect(start).toMatch(/^exec node (--\S+ )*--import tsx src\/main\.ts$/)
    expect(`exec node ${[...runnerNodeFlags, "--import", "tsx", "src/main.ts"].join(" ")}`).toBe(start)
    expect(productArguments("main").slice(0, runnerNodeFlags.length)).toEqual(runnerNodeFlags)
    expect(productArguments("sandbox-cli").some((argument) => runnerNodeFlags.includes(argument))).toBe(false)
  })

  it("docs/operations.md gives a process manager the command npm start runs", () => {
    const guide = readFileSync("docs/operations.md", "utf8").replace(/\s+/g, " ")
    const command = start.replace(/^exec /, "")
    expect(guide).toContain(`Run \`${command}\``)
    expect(guide).toContain(`ExecStart=/usr/bin/${command}`)
    expect(guide).toContain(`CMD [${command.split(" ").map((word) => `"${word}"`).join(", ")}]`)
  })
})
