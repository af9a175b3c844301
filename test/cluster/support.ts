/**
 * A real cluster for tests: runner child processes (`src/main.ts`, as `npm start` runs it)
 * on a fresh Postgres database and the local Redis, with the KIE and Bot API simulators
 * running in the test process on loopback, on real time with short generations. Jobs are
 * created the way users create them: a simulated user sends a photo to the bot.
 */
import { randomBytes } from "node:crypto"
import { createWriteStream, mkdirSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import pg from "pg"
import { Redacted } from "effect"
import { withDefaultUser } from "../../src/storage/database.js"
import type { KieChaos } from "../../src/sim/kie/faults.js"
import { type KieSimulator, startKieSimulator } from "../../src/sim/kie/index.js"
import { TelegramSimulator } from "../../src/sim/telegram/index.js"
import { TEST_DATABASE_URL } from "../support/database.js"
import { photoBytes } from "../support/job-harness.js"
import { freePort, getJson, type StartedBot, startBot, waitFor } from "../support/process.js"

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

/** The failover knobs every test cluster runs with (the documented defaults, spelled out). */
export const TIMINGS = {
  SHARD_LOCK_REFRESH: "2s",
  SHARD_LOCK_EXPIRATION: "6s",
  RUNNER_HEALTH_CHECK_INTERVAL: "2s",
  ENTITY_TERMINATION_TIMEOUT: "5s",
  DRAIN_GRACE: "1s"
} as const

/** The bound the tests hold failover to: the expiration plus generous slack for a loaded CI machine. */
export const FAILOVER_BOUND_MS = 20_000

export interface Runner extends StartedBot {
  readonly name: string
  readonly httpPort: number
  readonly runnerPort: number
}

/** Where KIE's callbacks go: a loopback round-robin over the live runners (PUBLIC_URL). */
export interface CallbackProxy {
  readonly url: string
  /** Forwarded to a runner and answered / refused because no live runner took it. */
  readonly stats: () => { readonly forwarded: number; readonly failed: number }
  readonly close: () => Promise<void>
}

export interface ClusterOptions {
  readonly kiePhases?: { waitingMs: number; queuingMs: number; generatingMs: number }
  /** The simulator's own createTask limit (KIE's is 20 per 10 s); default none. */
  readonly kieRateLimit?: { readonly limit: number; readonly windowMs: number } | false
  readonly kieChaos?: KieChaos
  /** "manual": KIE tasks only move when the test calls `kie.advance(ms)` (hold jobs in flight). */
  readonly kieClock?: "real" | "manual"
  /** Seed of the Bot API simulator's probabilistic faults. */
  readonly telegramFaultSeed?: number
  /** Give the runners a PUBLIC_URL (a round-robin proxy to the live runners) so KIE calls back. */
  readonly callbacks?: boolean
  /** Environment every runner gets on top of the defaults. */
  readonly runnerEnv?: Record<string, string>
}

export interface TestCluster {
  readonly databaseUrl: string
  /** The secrets the runners were given, which must never show in logs or rows. */
  readonly secrets: Record<string, string>
  readonly callbackProxy: CallbackProxy | undefined
  readonly telegram: TelegramSimulator
  readonly kie: KieSimulator
  readonly runners: Array<Runner>
  readonly start: (name: string, env?: Record<string, string>) => Promise<Runner>
  readonly query: <T extends pg.QueryResultRow>(text: string, values?: Array<unknown>) => Promise<Array<T>>
  readonly close: () => Promise<void>
}

export const readyz = async (runner: Runner) => {
  try {
    return await getJson(`http://127.0.0.1:${runner.httpPort}/readyz`)
  } catch {
    return { status: 0, body: {} as Record<string, unknown> }
  }
}

export const shardsOf = async (runner: Runner) => Number((await readyz(runner)).body.shards ?? 0)

/** Fresh database, both simulators, no runner yet. */
/** Forwards each request to the next live runner's HTTP port; a request no runner takes fails with 502. */
export const startCallbackProxy = async (targets: () => ReadonlyArray<Runner>): Promise<CallbackProxy> => {
  let next = 0
  let forwarded = 0
  let failed = 0
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", async () => {
      const live = targets().filter((runner) => runner.child.exitCode === null && runner.child.signalCode === null)
      const runner = live[next++ % Math.max(1, live.length)]
      try {
        if (runner === undefined) throw new Error("no live runner")
        const response = await fetch(`http://127.0.0.1:${runner.httpPort}${req.url ?? "/"}`, {
          method: req.method ?? "POST",
          headers: Object.fromEntries(
            Object.entries(req.headers).filter(([key, value]) => typeof value === "string" && !["host", "connection", "content-length"].includes(key))
          ) as Record<string, string>,
          ...(req.method === "GET" || req.method === "HEAD" ? {} : { body: Buffer.concat(chunks) }),
          signal: AbortSignal.timeout(10_000)
        })
        const body = Buffer.from(await response.arrayBuffer())
        forwarded++
        res.writeHead(response.status, { "content-type": response.headers.get("content-type") ?? "application/json" })
        res.end(body)
      } catch {
        // A runner killed under the request: the callback is lost, as it would be in production.
        failed++
        res.writeHead(502, { "content-type": "text/plain" })
        res.end("bad gateway")
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats: () => ({ forwarded, failed }),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

export const makeCluster = async (options: ClusterOptions = {}): Promise<TestCluster> => {
  const adminUrl = Redacted.value(withDefaultUser(Redacted.make(TEST_DATABASE_URL)))
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  const name = `bot_cluster_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const databaseUrl = url.toString()
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()

  const telegram = await new TelegramSimulator({
    host: "127.0.0.1",
    retainBotUploads: false,
    ...(options.telegramFaultSeed === undefined ? {} : { faultSeed: options.telegramFaultSeed })
  }).start()
  const kie = await startKieSimulator({
    host: "127.0.0.1",
    phases: options.kiePhases ?? { waitingMs: 500, queuingMs: 500, generatingMs: 3_000 },
    rateLimit: options.kieRateLimit ?? false,
    clock: options.kieClock ?? "real",
    ...(options.kieChaos === undefined ? {} : { chaos: options.kieChaos })
  })

  const runners: Array<Runner> = []
  const callbackProxy = options.callbacks === true ? await startCallbackProxy(() => runners) : undefined
  const secrets = {
    TELEGRAM_BOT_TOKEN: telegram.token,
    KIE_API_KEY: kie.apiKey,
    KIE_CALLBACK_SECRET: `cbs-${randomBytes(16).toString("hex")}`,
    PAYMENTS_SECRET: `pay-${randomBytes(16).toString("hex")}`,
    CLUSTER_SECRET: randomBytes(32).toString("base64")
  }
  const start = async (runnerName: string, env: Record<string, string> = {}) => {
    const httpPort = await freePort()
    const runnerPort = await freePort()
    const bot = startBot({
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(httpPort),
      RUNNER_PORT: String(runnerPort),
      DATABASE_URL: databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      TELEGRAM_BOT_TOKEN: secrets.TELEGRAM_BOT_TOKEN,
      TELEGRAM_API_ROOT: telegram.url,
      TELEGRAM_POLL_TIMEOUT: "1",
      KIE_API_KEY: secrets.KIE_API_KEY,
      KIE_CALLBACK_SECRET: secrets.KIE_CALLBACK_SECRET,
      PAYMENTS_SECRET: secrets.PAYMENTS_SECRET,
      CLUSTER_SECRET: secrets.CLUSTER_SECRET,
      ...(callbackProxy === undefined ? {} : { PUBLIC_URL: callbackProxy.url }),
      KIE_BASE_URL: kie.url,
      KIE_UPLOAD_BASE_URL: kie.url,
      // The simulator does not limit here; the runners' own limiter stays out of the way.
      KIE_RATE_LIMIT: "1000",
      FREE_TOKENS: "2",
      MAX_JOBS_IN_FLIGHT: "5",
      FLOOD_LIMIT_PER_MINUTE: "1000",
      ...TIMINGS,
      ...options.runnerEnv,
      ...env
    })
    // CLUSTER_LOG_DIR=dir keeps each runner's whole output in dir/<database>-<runner>.log.
    const logDir = process.env.CLUSTER_LOG_DIR
    if (logDir !== undefined && logDir !== "") {
      mkdirSync(logDir, { recursive: true })
      const file = createWriteStream(`${logDir}/${name}-${runnerName}.log`)
      bot.child.stdout!.on("data", (chunk) => file.write(chunk))
      bot.child.stderr!.on("data", (chunk) => file.write(chunk))
      bot.child.once("exit", () => file.end())
    }
    const runner: Runner = { ...bot, name: runnerName, httpPort, runnerPort }
    runners.push(runner)
    return runner
  }

  const close = async () => {
    for (const runner of runners) runner.child.kill("SIGKILL")
    await Promise.all(runners.map((runner) => runner.child.exitCode === null && runner.child.signalCode === null ? runner.exited : null))
    await db.end().catch(() => undefined)
    await callbackProxy?.close().catch(() => undefined)
    await telegram.stop().catch(() => undefined)
    await kie.close().catch(() => undefined)
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
    await admin.end().catch(() => undefined)
  }

  return {
    databaseUrl,
    secrets,
    callbackProxy,
    telegram,
    kie,
    runners,
    start,
    query: async (text, values) => (await db.query(text, values)).rows,
    close
  }
}

export const waitReady = async (runner: Runner, timeoutMs = 90_000) => {
  const ok = await waitFor(async () => (await readyz(runner)).status === 200, timeoutMs)
  if (!ok) throw new Error(`${runner.name} never became ready:\n${runner.output().slice(-4000)}`)
}

/** Polls until `check` holds; throws `what` after the timeout. */
export const until = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) => {
  const ok = await waitFor(async () => await check(), timeoutMs)
  if (!ok) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
}

/** Users 1..n each send /start then `photos` photos; returns the user ids. */
export const sendPhotos = (cluster: TestCluster, firstId: number, users: number, photos: number) => {
  const ids: Array<number> = []
  for (let i = 0; i < users; i++) {
    const id = firstId + i
    ids.push(id)
    const user = cluster.telegram.createUser({ id, first_name: `User${id}`, language_code: "en" })
    for (let p = 0; p < photos; p++) user.sendPhoto(photoBytes, { caption: `scene ${p} of user ${id}` })
  }
  return ids
}

export const TERMINAL = ["delivered", "refunded", "failed"]

export interface Invariants {
  readonly jobs: number
  readonly byState: Record<string, number>
  readonly kieTasks: number
  /** Tasks KIE created for these users' jobs that no job names: a submission repeated after a crash. */
  readonly orphanTasks: number
  readonly videos: number
  readonly duplicateVideos: number
  readonly ledgerMismatches: Array<string>
  readonly jobsWithoutOneTask: Array<string>
}

/** The design's invariants, read from SQL and the simulators' records. */
export const checkInvariants = async (cluster: TestCluster, userIds: ReadonlyArray<number>): Promise<Invariants> => {
  const jobs = await cluster.query<{ id: string; user_id: string; state: string; kie_task_id: string | null; attempts: number; prompt: string }>(
    `SELECT id, user_id, state, kie_task_id, attempts, prompt FROM jobs WHERE user_id = ANY($1::bigint[])`,
    [userIds]
  )
  const byState: Record<string, number> = {}
  for (const job of jobs) byState[job.state] = (byState[job.state] ?? 0) + 1

  // The prompts are unique per photo, so a task belongs to the job with its prompt.
  const prompts = new Set(jobs.map((job) => job.prompt))
  const tasks = cluster.kie.tasks().filter((task) => prompts.has(String(task.input.prompt)))
  const taskIds = new Set(tasks.map((task) => task.taskId))
  const named = new Set(jobs.map((job) => job.kie_task_id).filter((id) => id !== null))
  // Each delivered job names one task of its own; no two jobs share one.
  const jobsWithoutOneTask = jobs
    .filter((job) => job.state === "delivered" && (job.kie_task_id === null || !taskIds.has(job.kie_task_id)))
    .map((job) => job.id)
  if (named.size !== jobs.filter((job) => job.kie_task_id !== null).length) jobsWithoutOneTask.push("two jobs share a task")
  const chats = new Set(userIds)
  const videos = cluster.telegram.callsOf("sendVideo").filter((call) => call.outcome.ok && chats.has(Number(call.params.chat_id)))
  const videosPerChat = new Map<number, number>()
  for (const call of videos) {
    const chat = Number(call.params.chat_id)
    videosPerChat.set(chat, (videosPerChat.get(chat) ?? 0) + 1)
  }
  const deliveredPerUser = new Map<number, number>()
  for (const job of jobs) if (job.state === "delivered") deliveredPerUser.set(Number(job.user_id), (deliveredPerUser.get(Number(job.user_id)) ?? 0) + 1)
  let duplicateVideos = 0
  for (const [chat, count] of videosPerChat) duplicateVideos += Math.max(0, count - (deliveredPerUser.get(chat) ?? 0))

  const ledger = await cluster.query<{ user_id: string; credits: string; free: string; b_credits: number | null; b_free: number | null }>(
    `SELECT l.user_id, SUM(l.delta_credits) AS credits, SUM(l.delta_free) AS free,
            MAX(b.credits) AS b_credits, MAX(b.free_tokens) AS b_free
       FROM credit_ledger l LEFT JOIN balances b ON b.user_id = l.user_id
      WHERE l.user_id = ANY($1::bigint[]) GROUP BY l.user_id`,
    [userIds]
  )
  const ledgerMismatches = ledger
    .filter((row) => Number(row.credits) !== Number(row.b_credits) || Number(row.free) !== Number(row.b_free))
    .map((row) => `user ${row.user_id}: ledger ${row.credits}/${row.free}, balance ${row.b_credits}/${row.b_free}`)
  // Every job that finished settled its reservation: captured once if delivered, refunded otherwise.
  const settlement = await cluster.query<{ job_id: string; kinds: string }>(
    `SELECT job_id, string_agg(kind, ',' ORDER BY kind) AS kinds FROM credit_ledger
      WHERE job_id IS NOT NULL AND user_id = ANY($1::bigint[]) GROUP BY job_id`,
    [userIds]
  )
  const kindsByJob = new Map(settlement.map((row) => [row.job_id, row.kinds]))
  for (const job of jobs) {
    const kinds = kindsByJob.get(job.id) ?? ""
    const expected = job.state === "delivered" ? "capture,reserve" : job.state === "refunded" ? "refund,reserve" : undefined
    if (expected !== undefined && kinds !== expected) ledgerMismatches.push(`job ${job.id} (${job.state}): ledger kinds ${kinds}`)
  }

  return {
    jobs: jobs.length,
    byState,
    kieTasks: tasks.length,
    orphanTasks: tasks.filter((task) => !named.has(task.taskId)).length,
    videos: videos.length,
    duplicateVideos,
    ledgerMismatches,
    jobsWithoutOneTask
  }
}

/** Money figures for a set of users, from SQL only. */
export interface MoneyReport {
  readonly conserved: boolean
  /** Sum of every ledger delta (credits, free tokens) vs the sum of the balances. */
  readonly ledger: { readonly credits: number; readonly free: number }
  readonly balances: { readonly credits: number; readonly free: number }
  readonly freeGranted: number
  readonly reserved: number
  readonly captured: number
  readonly refunded: number
  /** Jobs with more than one reserve, capture or refund row, or with both a capture and a refund. */
  readonly duplicateCharges: number
  /** Terminal jobs whose ledger is not exactly reserve + (capture | refund). */
  readonly unsettled: number
}

export const moneyReport = async (cluster: TestCluster, userIds: ReadonlyArray<number>): Promise<MoneyReport> => {
  const [sums] = await cluster.query<{ credits: string; free: string }>(
    `SELECT COALESCE(SUM(delta_credits), 0) AS credits, COALESCE(SUM(delta_free), 0) AS free
       FROM credit_ledger WHERE user_id = ANY($1::bigint[])`,
    [userIds]
  )
  const [balances] = await cluster.query<{ credits: string; free: string }>(
    `SELECT COALESCE(SUM(credits), 0) AS credits, COALESCE(SUM(free_tokens), 0) AS free FROM balances WHERE user_id = ANY($1::bigint[])`,
    [userIds]
  )
  const kinds = await cluster.query<{ kind: string; n: string; free: string }>(
    `SELECT kind, COUNT(*) AS n, COALESCE(SUM(delta_free), 0) AS free FROM credit_ledger
      WHERE user_id = ANY($1::bigint[]) GROUP BY kind`,
    [userIds]
  )
  const count = (kind: string) => Number(kinds.find((row) => row.kind === kind)?.n ?? 0)
  const [duplicates] = await cluster.query<{ n: string }>(
    `SELECT COUNT(*) AS n FROM (
       SELECT job_id FROM credit_ledger WHERE job_id IS NOT NULL AND user_id = ANY($1::bigint[])
        GROUP BY job_id
       HAVING COUNT(*) FILTER (WHERE kind = 'reserve') > 1 OR COUNT(*) FILTER (WHERE kind = 'capture') > 1
           OR COUNT(*) FILTER (WHERE kind = 'refund') > 1
           OR (COUNT(*) FILTER (WHERE kind = 'capture') > 0 AND COUNT(*) FILTER (WHERE kind = 'refund') > 0)) d`,
    [userIds]
  )
  const [unsettled] = await cluster.query<{ n: string }>(
    `SELECT COUNT(*) AS n FROM jobs j
      WHERE j.user_id = ANY($1::bigint[]) AND j.state IN ('delivered', 'refunded')
        AND (SELECT string_agg(kind, ',' ORDER BY kind) FROM credit_ledger l WHERE l.job_id = j.id)
            IS DISTINCT FROM CASE j.state WHEN 'delivered' THEN 'capture,reserve' ELSE 'refund,reserve' END`,
    [userIds]
  )
  const ledger = { credits: Number(sums!.credits), free: Number(sums!.free) }
  const held = { credits: Number(balances!.credits), free: Number(balances!.free) }
  const freeGranted = Number(kinds.find((row) => row.kind === "free_grant")?.free ?? 0)
  const report = {
    ledger,
    balances: held,
    freeGranted,
    reserved: count("reserve"),
    captured: count("capture"),
    refunded: count("refund"),
    duplicateCharges: Number(duplicates!.n),
    unsettled: Number(unsettled!.n)
  }
  return {
    ...report,
    // Ledger = balances, and what is held is what was granted less what was captured.
    conserved: ledger.credits === held.credits && ledger.free === held.free &&
      held.credits + held.free === freeGranted - report.captured && report.duplicateCharges === 0 && report.unsettled === 0
  }
}

export const formatMoney = (m: MoneyReport) =>
  `money conserved: ${m.conserved ? "yes" : "NO"} (ledger sum ${m.ledger.credits} credits + ${m.ledger.free} free = ` +
  `balances ${m.balances.credits} + ${m.balances.free}; free granted ${m.freeGranted} − captured ${m.captured} = ` +
  `${m.freeGranted - m.captured}; reservations ${m.reserved}: captured ${m.captured}, refunded ${m.refunded}, ` +
  `unsettled or twice-settled ${m.unsettled}); duplicate charges ${m.duplicateCharges}`

/** Where any of the secrets shows up: in a runner's output or in any row of any table. */
export const scanSecrets = async (cluster: TestCluster): Promise<Array<string>> => {
  const found: Array<string> = []
  const secrets = Object.entries(cluster.secrets)
  for (const runner of cluster.runners) {
    const output = runner.output()
    for (const [name, value] of secrets) if (output.includes(value)) found.push(`${name} in ${runner.name}'s output`)
  }
  const tables = await cluster.query<{ schemaname: string; tablename: string }>(
    `SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`
  )
  for (const { schemaname, tablename } of tables) {
    const rows = await cluster.query<Record<string, unknown>>(`SELECT * FROM "${schemaname}"."${tablename}"`)
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        if (value === null || value === undefined) continue
        const bytes = Buffer.isBuffer(value) ? value : Buffer.from(typeof value === "string" ? value : JSON.stringify(value))
        for (const [name, secret] of secrets) {
          if (bytes.includes(secret)) found.push(`${name} in ${tablename}.${column}`)
        }
      }
    }
  }
  return [...new Set(found)]
}

/** Peak createTask rate KIE admitted (sliding window) and saw (per second), from the simulator's record. */
export const kieRateReport = (cluster: TestCluster, windowMs = 10_000) => {
  const admitted = cluster.kie.createAttempts().filter((a) => a.status === 200).map((a) => a.at).sort((a, b) => a - b)
  let maxAdmittedPerWindow = 0
  for (let end = 0, start = 0; end < admitted.length; end++) {
    while (admitted[start]! <= admitted[end]! - windowMs) start++
    maxAdmittedPerWindow = Math.max(maxAdmittedPerWindow, end - start + 1)
  }
  const createTask = cluster.kie.rateStats("POST /api/v1/jobs/createTask", windowMs)
  const all = cluster.kie.rateStats(undefined, windowMs)
  const rejected = cluster.kie.createAttempts().filter((a) => a.status === 429).length
  return { maxAdmittedPerWindow, createTask, all, rejected429: rejected }
}

/** Jobs grouped by final state and, for the ones not delivered, by error class/detail. */
export const outcomeReport = async (cluster: TestCluster, userIds: ReadonlyArray<number>) => {
  const rows = await cluster.query<{ state: string; error_class: string | null; error_detail: string | null; n: string }>(
    `SELECT state, error_class, error_detail, COUNT(*) AS n FROM jobs WHERE user_id = ANY($1::bigint[])
      GROUP BY state, error_class, error_detail ORDER BY state, n DESC`,
    [userIds]
  )
  return rows.map((row) =>
    `${row.state}${row.state === "delivered" ? "" : ` (${row.error_class ?? "-"}/${row.error_detail ?? "-"})`}: ${row.n}`
  ).join(", ")
}

/**
 * Runners named R1, R2, … started on demand, and the timeline a heavy test reports: `at()`
 * is the time since the timeline began, `events` its lines, `alive` the runners not killed.
 */
export const runnerTimeline = (cluster: TestCluster) => {
  const t0 = Date.now()
  const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`
  const events: Array<string> = []
  const alive = new Set<Runner>()
  let started = 0
  const startRunner = async () => {
    const runner = await cluster.start(`R${++started}`)
    await waitReady(runner)
    alive.add(runner)
    events.push(`${at()} ${runner.name} ready`)
    return runner
  }
  return { at, events, alive, startRunner }
}
