/**
 * `npm start` on the real process tree: a process manager signals the process it started
 * (npm), and the runner must get that signal, drain and exit, leaving no orphan behind.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { freePort, getJson, waitFor } from "../src/sim/runner-process.js"

/** The parent pid of a live process, from /proc (Linux). */
const parentOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name is in parentheses and may hold spaces: the fields after it are fixed.
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}

const argvOf = (pid: number): Array<string> => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((arg) => arg !== "")
  } catch {
    return []
  }
}

/** The runner: a node process running the bundle of src/main.ts (not a shell whose command line names it). */
const isRunner = (argv: ReadonlyArray<string>) =>
  /(^|\/)node$/.test(argv[0] ?? "") && argv.some((arg) => /product-bundle\/start-[0-9a-f]+\/main\.js$/.test(arg))

/** Every live descendant of `root`, with its command line. */
const descendants = (root: number): Array<{ pid: number; argv: Array<string> }> => {
  const children = new Map<number, Array<number>>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const parent = parentOf(Number(entry))
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(entry)])
  }
  const found: Array<{ pid: number; argv: Array<string> }> = []
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      found.push({ pid: child, argv: argvOf(child) })
      walk(child)
    }
  }
  walk(root)
  return found
}

const isAlive = (pid: number) => existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))

interface NpmStart {
  readonly npm: ChildProcess
  readonly output: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly httpPort: number
}

/** `npm start` in its own process group (as a terminal or a process manager would run it). */
const npmStart = async (dataDir: string): Promise<NpmStart> => {
  const httpPort = await freePort()
  const npm = spawn("npm", ["start"], {
    cwd: process.cwd(),
    detached: true,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      npm_config_update_notifier: "false",
      DATA_DIR: dataDir,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(httpPort),
      RUNNER_PORT: String(await freePort())
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  npm.stdout!.on("data", (chunk) => (output += chunk))
  npm.stderr!.on("data", (chunk) => (output += chunk))
  const exited = once(npm, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  return { npm, output: () => output, exited, httpPort }
}

/** Starts `npm start`, waits until ready, signals it by `send`, and reports what became of the tree. */
const stopWith = async (send: (npmPid: number) => void) => {
  const dataDir = mkdtempSync(join(tmpdir(), "bot-npm-start-"))
  const started = await npmStart(dataDir)
  const npmPid = started.npm.pid!
  let runners: Array<{ pid: number; argv: Array<string> }> = []
  try {
    const ready = await waitFor(async () => (await getJson(`http://127.0.0.1:${started.httpPort}/readyz`)).status === 200, 90_000)
    expect(ready, started.output()).toBe(true)
    // Ready means the shards are held; the poller singleton starts a moment later, and a
    // clean stop is only shown by a poller that was running.
    const polling = await waitFor(async () => started.output().includes("Telegram poller started"), 30_000)
    expect(polling, started.output()).toBe(true)
    runners = descendants(npmPid).filter((p) => isRunner(p.argv))
    expect(runners, JSON.stringify(descendants(npmPid))).toHaveLength(1)
    send(npmPid)
    const exit = await Promise.race([
      started.exited,
      new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 30_000))
    ])
    // npm gone, then the runner: alive now means orphaned (its parent is init).
    const stillRunning = await waitFor(async () => !isAlive(runners[0]!.pid), 10_000).then((gone) => !gone)
    return { exit, runnerOrphaned: stillRunning, parentNow: parentOf(runners[0]!.pid), output: started.output() }
  } finally {
    for (const runner of runners) if (isAlive(runner.pid)) process.kill(runner.pid, "SIGKILL")
    if (started.npm.exitCode === null && started.npm.signalCode === null) process.kill(npmPid, "SIGKILL")
    rmSync(dataDir, { recursive: true, force: true })
  }
}

// Each test is its own process group on its own data directory and ports: side by side.
describe("npm start passes signals to the runner", { timeout: 150_000, concurrent: true }, () => {
  it("SIGTERM to the npm process: the runner drains and exits, npm exits 0, no orphan", async () => {
    const result = await stopWith((npmPid) => process.kill(npmPid, "SIGTERM"))
    expect(result.runnerOrphaned, `runner left running with parent ${result.parentNow}\n${result.output}`).toBe(false)
    expect(result.exit).toEqual({ code: 0, signal: null })
    expect(result.output).toContain("SIGTERM: draining")
  })

  it("Ctrl-C (SIGINT to the whole group, which npm forwards again): one clean stop, exit 0", async () => {
    const result = await stopWith((npmPid) => process.kill(-npmPid, "SIGINT"))
    expect(result.runnerOrphaned, result.output).toBe(false)
    expect(result.exit).toEqual({ code: 0, signal: null })
    expect(result.output).toContain("Telegram poller stopped")
  })
})
