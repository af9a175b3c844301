/**
 * A real cluster for tests: runner child processes (`src/main.ts`, as `npm start` runs it)
 * on a fresh Postgres database and the local Redis, with the KIE and Bot API simulators
 * running in the test process on loopback, on real time with short generations. Jobs are
 * created the way users create them: a simulated user sends a photo to the bot.
 */
import pg from "pg"
import { Redacted } from "effect"
import { withDefaultUser } from "../../src/storage/database.js"
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

export interface TestCluster {
  readonly databaseUrl: string
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
export const makeCluster = async (
  options: { readonly kiePhases?: { waitingMs: number; queuingMs: number; generatingMs: number } } = {}
): Promise<TestCluster> => {
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

  const telegram = await new TelegramSimulator({ host: "127.0.0.1" }).start()
  const kie = await startKieSimulator({
    host: "127.0.0.1",
    phases: options.kiePhases ?? { waitingMs: 500, queuingMs: 500, generatingMs: 3_000 },
    rateLimit: false
  })

  const runners: Array<Runner> = []
  const start = async (runnerName: string, env: Record<string, string> = {}) => {
    const httpPort = await freePort()
    const runnerPort = await freePort()
    const bot = startBot({
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(httpPort),
      RUNNER_PORT: String(runnerPort),
      DATABASE_URL: databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.url,
      TELEGRAM_POLL_TIMEOUT: "1",
      KIE_API_KEY: kie.apiKey,
      KIE_BASE_URL: kie.url,
      KIE_UPLOAD_BASE_URL: kie.url,
      // The simulator does not limit here; the runners' own limiter stays out of the way.
      KIE_RATE_LIMIT: "1000",
      FREE_TOKENS: "2",
      MAX_JOBS_IN_FLIGHT: "5",
      FLOOD_LIMIT_PER_MINUTE: "1000",
      ...TIMINGS,
      ...env
    })
    const runner: Runner = { ...bot, name: runnerName, httpPort, runnerPort }
    runners.push(runner)
    return runner
  }

  const close = async () => {
    for (const runner of runners) runner.child.kill("SIGKILL")
    await Promise.all(runners.map((runner) => runner.child.exitCode === null && runner.child.signalCode === null ? runner.exited : null))
    await db.end().catch(() => undefined)
    await telegram.stop().catch(() => undefined)
    await kie.close().catch(() => undefined)
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
    await admin.end().catch(() => undefined)
  }

  return {
    databaseUrl,
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
