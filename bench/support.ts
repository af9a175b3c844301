/**
 * What the benchmarks share: a fresh Postgres database, the two simulators on loopback in
 * the harness process, runner child processes (`src/main.ts`, as operators run it) and
 * samplers that measure a process from outside (/proc) so the runner and the BullMQ peer
 * are measured the same way. Copied in spirit from src/sim/local-cluster.ts (the cluster
 * tests' own), with the output capped: 10,000 jobs of logs must not fill the heap.
 */
import { execSync, spawn, type ChildProcess } from "node:child_process"
import { once } from "node:events"
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { cpus, totalmem } from "node:os"
import { join } from "node:path"
import { Redis } from "ioredis"
import pg from "pg"
import { startBundle } from "../scripts/product-bundle.js"
import { startKieSimulator, type KieSimulator } from "../src/sim/kie/index.js"
import { runnerNodeFlags } from "../src/sim/runner-process.js"
import { TelegramSimulator } from "../src/sim/telegram/index.js"

export const DATABASE_ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres"
/**
 * A Redis logical database of the benchmarks' own: the product's limiter keys (Telegram's
 * 30 messages/s, KIE's createTask budget) are global per Redis database, so a runner of
 * someone's test on the same Redis would otherwise share, and eat, the benchmark's budget.
 */
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/11"

/** Forgets the limiter state an earlier run left (its chats' and the global buckets). */
export const clearLimiters = async () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  try {
    let cursor = "0"
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", "photo-video-bot:ratelimit:*", "COUNT", 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== "0")
  } finally {
    redis.disconnect()
  }
}

/** A small JPEG-ish payload (2 KB: 10,000 of them live in the simulator): nobody decodes it, it is only moved. */
export const photoBytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2_000, 7), Buffer.from([0xff, 0xd9])])

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0))
    })
  })

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export const waitFor = async (probe: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 250) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await Promise.resolve().then(probe).catch(() => false)) return true
    await sleep(everyMs)
  }
  return false
}

// ---------------------------------------------------------------------------- database

export interface BenchDatabase {
  readonly url: string
  readonly query: <T extends pg.QueryResultRow>(text: string, values?: Array<unknown>) => Promise<Array<T>>
  readonly drop: () => Promise<void>
}

export const freshDatabase = async (label: string): Promise<BenchDatabase> => {
  const admin = new pg.Client({ connectionString: DATABASE_ADMIN_URL })
  await admin.connect()
  const name = `bench_${label}_${process.pid}_${Date.now()}`
  await admin.query(`CREATE DATABASE ${name}`)
  // BENCH_LOG_STATEMENTS=1: every statement of the run's database goes to the server log, to
  // count commits by statement kind (pg_stat_statements is not assumed to be installed).
  if (process.env.BENCH_LOG_STATEMENTS === "1") await admin.query(`ALTER DATABASE ${name} SET log_statement = 'all'`)
  const url = new URL(DATABASE_ADMIN_URL)
  url.pathname = `/${name}`
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 })
  // An idle client the server closes must not take the harness down; the next query reconnects.
  pool.on("error", (error) => console.error(`bench database: ${error.message}`))
  return {
    url: url.toString(),
    query: async (text, values) => (await pool.query(text, values)).rows,
    drop: async () => {
      await pool.end().catch(() => undefined)
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
      await admin.end().catch(() => undefined)
    }
  }
}

// ---------------------------------------------------------------------------- simulators

export interface Simulators {
  readonly telegram: TelegramSimulator
  readonly kie: KieSimulator
  readonly close: () => Promise<void>
}

/**
 * Both simulators with KIE's phases summing to `generationMs`. `kieLimitPer10s` is the
 * simulator's createTask limit (KIE's real one is 20 per 10 s); `telegramPerSecond` its
 * global flood limit.
 */
export const startSimulators = async (
  generationMs: number,
  kieLimitPer10s: number,
  telegramPerSecond: number
): Promise<Simulators> => {
  // Telegram's flood limits: ~1 message/s per chat with short bursts, ~30/s
  // in all; over them the simulator answers 429 with retry_after, as Telegram does.
  const telegram = await new TelegramSimulator({
    host: "127.0.0.1",
    floodControl: { perChatPerSecond: 1, perChatBurst: 3, globalPerSecond: telegramPerSecond, globalBurst: telegramPerSecond }
  }).start()
  // A 0 s generation still passes through the states; each phase is at least 0 ms.
  const kie = await startKieSimulator({
    host: "127.0.0.1",
    phases: generationMs === 0
      ? { waitingMs: 0, queuingMs: 0, generatingMs: 0 }
      : { waitingMs: Math.round(generationMs * 0.1), queuingMs: Math.round(generationMs * 0.1), generatingMs: Math.round(generationMs * 0.8) },
    rateLimit: { limit: kieLimitPer10s, windowMs: 10_000 },
    credits: 100_000_000
  })
  return {
    telegram,
    kie,
    close: async () => {
      await telegram.stop().catch(() => undefined)
      await kie.close().catch(() => undefined)
    }
  }
}

/**
 * `users` simulated users (ids from `firstId`), each sending one photo with a unique
 * caption, as fast as the simulator takes them. Returns the ids and when each was sent.
 */
export const sendPhotos = (sims: Simulators, firstId: number, users: number, tag: string) => {
  const sentAt = new Map<number, number>()
  for (let i = 0; i < users; i++) {
    const id = firstId + i
    const user = sims.telegram.createUser({ id, first_name: `B${id}`, language_code: "en" })
    user.sendPhoto(photoBytes, { caption: `${tag} ${id}` })
    sentAt.set(id, Date.now())
  }
  return sentAt
}

// ---------------------------------------------------------------------------- processes

export interface Child {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  /** The last 64 KB of the child's output (logs), for error reports. */
  readonly tail: () => string
  readonly onLine: (listener: (line: string) => void) => void
  readonly exited: Promise<number | null>
  readonly kill: (signal?: NodeJS.Signals) => Promise<void>
}

export const spawnNode = (name: string, args: Array<string>, env: Record<string, string>): Child => {
  const child = spawn(process.execPath, args, {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let tail = ""
  let partial = ""
  const listeners: Array<(line: string) => void> = []
  const onData = (chunk: Buffer) => {
    const text = chunk.toString("utf8")
    tail = (tail + text).slice(-65_536)
    if (listeners.length === 0) return
    partial += text
    const lines = partial.split("\n")
    partial = lines.pop() ?? ""
    for (const line of lines) for (const listener of listeners) listener(line)
  }
  child.stdout!.on("data", onData)
  child.stderr!.on("data", onData)
  const exited = once(child, "exit").then(([code]) => code as number | null)
  return {
    name,
    child,
    pid: child.pid!,
    tail: () => tail,
    onLine: (listener) => listeners.push(listener),
    exited,
    kill: async (signal = "SIGTERM") => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(signal)
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
      await exited
      clearTimeout(timer)
    }
  }
}

export interface Runner extends Child {
  readonly httpPort: number
}

/** One runner of the product, started as `npm start` starts it (its bundle and its Node flags), in cluster mode. */
export const startRunner = async (
  sims: Simulators,
  databaseUrl: string,
  env: Record<string, string> | ((httpPort: number) => Record<string, string>)
): Promise<Runner> => {
  const httpPort = await freePort()
  const runnerPort = await freePort()
  // BENCH_RUNNER_NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=bench/results/profiles": a profile of the runner.
  const nodeOptions = (process.env.BENCH_RUNNER_NODE_OPTIONS ?? "").split(" ").filter((option) => option !== "")
  const child = spawnNode("runner", [...runnerNodeFlags, ...nodeOptions, join(await startBundle(), "main.js")], {
    NODE_ENV: "production",
    LOG_LEVEL: "Warning",
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: String(httpPort),
    RUNNER_PORT: String(runnerPort),
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    TELEGRAM_BOT_TOKEN: sims.telegram.token,
    TELEGRAM_API_ROOT: sims.telegram.url,
    TELEGRAM_POLL_TIMEOUT: "1",
    KIE_API_KEY: sims.kie.apiKey,
    KIE_BASE_URL: sims.kie.url,
    KIE_UPLOAD_BASE_URL: sims.kie.url,
    PAYMENTS_SECRET: "bench-payments-secret",
    KIE_CALLBACK_SECRET: "bench-callback-secret",
    CLUSTER_SECRET: "bench-cluster-secret-of-at-least-32-characters",
    ...(typeof env === "function" ? env(httpPort) : env),
    // BENCH_RUNNER_ENV='{"MAX_CONCURRENT_TRANSFERS":"32"}': a setting tried on the runner.
    ...JSON.parse(process.env.BENCH_RUNNER_ENV ?? "{}") as Record<string, string>
  })
  const runner = { ...child, httpPort }
  // BENCH_RUNNER_LOG=/path: every line the runner prints, for a run that needs explaining.
  const logFile = process.env.BENCH_RUNNER_LOG
  if (logFile !== undefined && logFile !== "") child.onLine((line) => appendFileSync(logFile, `${line}\n`))
  // Each probe with a deadline of its own: a runner that takes the connection and never
  // answers would otherwise hold the benchmark for ever, with nothing said.
  const ready = await waitFor(
    async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(5_000) })).status === 200,
    120_000,
    500
  )
  if (!ready) {
    // BENCH_RUNNER_NODE_OPTIONS="--report-on-signal --report-directory=…": Node's report of the stuck runner first.
    if (nodeOptions.includes("--report-on-signal")) {
      process.kill(child.pid, "SIGUSR2")
      await sleep(2_000)
    }
    await child.kill("SIGKILL")
    throw new Error(`runner never became ready:\n${child.tail().slice(-4000)}`)
  }
  return runner
}

/** One gauge of the runner's /metrics, or undefined when it is not there. */
export const scrapeGauge = async (runner: Runner, name: string): Promise<number | undefined> => {
  const response = await fetch(`http://127.0.0.1:${runner.httpPort}/metrics`, { signal: AbortSignal.timeout(5_000) })
  const text = await response.text()
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)
  return match === null ? undefined : Number(match[1])
}

// ---------------------------------------------------------------------------- measuring

const clockTicks = (() => {
  try {
    return Number(execSync("getconf CLK_TCK").toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU seconds (user + system) and resident memory of a live process, from /proc. */
export const procUsage = (pid: number): { cpuSeconds: number; rssBytes: number } | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const ticks = Number(fields[11]) + Number(fields[12])
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const rss = /VmRSS:\s+(\d+) kB/.exec(status)
    return { cpuSeconds: ticks / clockTicks, rssBytes: Number(rss?.[1] ?? 0) * 1024 }
  } catch {
    return undefined
  }
}

export interface UsageSample {
  readonly at: number
  readonly cpuSeconds: number
  readonly rssBytes: number
  readonly loopDelayP99Ms: number | undefined
}

/**
 * Samples the summed CPU time and RSS of a set of processes every `everyMs`, plus an
 * event-loop delay read by `loopDelay` (from /metrics, or reported by the peer's workers).
 */
export class Sampler {
  readonly samples: Array<UsageSample> = []
  private timer: NodeJS.Timeout | undefined
  private busy = false
  constructor(
    private readonly pids: () => ReadonlyArray<number>,
    private readonly loopDelay: () => Promise<number | undefined>,
    private readonly everyMs = 1_000
  ) {}

  start() {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.everyMs)
  }

  private sample() {
    if (this.busy) return
    this.busy = true
    let cpuSeconds = 0
    let rssBytes = 0
    for (const pid of this.pids()) {
      const usage = procUsage(pid)
      if (usage === undefined) continue
      cpuSeconds += usage.cpuSeconds
      rssBytes += usage.rssBytes
    }
    const at = Date.now()
    this.loopDelay().catch(() => undefined).then((loopDelayP99Ms) => {
      this.samples.push({ at, cpuSeconds, rssBytes, loopDelayP99Ms })
      this.busy = false
    })
  }

  stop() {
    if (this.timer !== undefined) clearInterval(this.timer)
  }

  /** CPU seconds spent between the first and the last sample. */
  cpuSecondsBetween(from: number, to: number) {
    const inside = this.samples.filter((s) => s.at >= from && s.at <= to)
    if (inside.length < 2) return NaN
    return inside[inside.length - 1]!.cpuSeconds - inside[0]!.cpuSeconds
  }

  peakRssBytes(from = 0, to = Infinity) {
    return Math.max(0, ...this.samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.rssBytes))
  }

  /** CPU % of one core per sample interval. */
  cpuPercents(from = 0, to = Infinity) {
    const inside = this.samples.filter((s) => s.at >= from && s.at <= to)
    const out: Array<number> = []
    for (let i = 1; i < inside.length; i++) {
      const dt = (inside[i]!.at - inside[i - 1]!.at) / 1000
      if (dt > 0) out.push((100 * (inside[i]!.cpuSeconds - inside[i - 1]!.cpuSeconds)) / dt)
    }
    return out
  }

  loopDelays(from = 0, to = Infinity) {
    return this.samples
      .filter((s) => s.at >= from && s.at <= to && s.loopDelayP99Ms !== undefined)
      .map((s) => s.loopDelayP99Ms!)
  }
}

export const percentile = (values: ReadonlyArray<number>, p: number) => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export const mean = (values: ReadonlyArray<number>) =>
  values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length

// ---------------------------------------------------------------------------- output

export const machine = () => {
  const cpu = cpus()
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? "unknown",
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
  }
}

export const fmt = (value: number, digits = 1) =>
  Number.isFinite(value) ? value.toFixed(digits) : "–"

/** A markdown table: the first column names the figure, one column per system, then ratios. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`
  return [line(header), `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":")).join(" | ")} |`, ...rows.map(line)]
    .join("\n")
}

export const writeResult = (name: string, result: unknown) => {
  mkdirSync("bench/results", { recursive: true })
  const path = `bench/results/${name}.json`
  writeFileSync(path, JSON.stringify(result, null, 2) + "\n")
  return path
}
