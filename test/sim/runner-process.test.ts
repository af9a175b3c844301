/**
 * A runner that a test, a benchmark or `npm run cluster:local` starts runs with the Node
 * flags of `npm start`, and the operations guide gives a process manager the same command.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { productArguments, runnerNodeFlags } from "../../src/sim/runner-process.js"

const start = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { start: string } }).scripts.start

/** What `npm start` execs once the bundle is built: node, the runner's flags, the bundle's main.js. */
const runnerCommand = start.slice(start.indexOf("exec ") + "exec ".length)

describe("runner processes", () => {
  it("get the Node flags of npm start; other entry points get none", () => {
    expect(start).toMatch(/^dir=\$\(node --import tsx scripts\/build\.ts\) && exec node (--\S+ )*"\$dir\/main\.js"$/)
    expect(runnerCommand).toBe(`node ${[...runnerNodeFlags, "\"$dir/main.js\""].join(" ")}`)
    expect(productArguments("main").slice(0, runnerNodeFlags.length)).toEqual(runnerNodeFlags)
    expect(productArguments("sandbox-cli").some((argument) => runnerNodeFlags.includes(argument))).toBe(false)
  })

  it("docs/operations.md gives a process manager the command npm start runs, on the bundle `npm run build` points dist at", () => {
    const guide = readFileSync("docs/operations.md", "utf8").replace(/\s+/g, " ")
    const command = runnerCommand.replace("\"$dir/main.js\"", "dist/main.js")
    expect(guide).toContain(`run \`${command}\``)
    expect(guide).toContain(`ExecStart=/usr/bin/${command}`)
    expect(guide).toContain(`CMD [${command.split(" ").map((word) => `"${word}"`).join(", ")}]`)
  })
})
