/**
 * The cluster tests' view of a real cluster (src/sim/local-cluster.ts) on the local
 * Postgres and Redis: the design's invariants and the figures the heavy runs report, read
 * from SQL and the simulators' records.
 */
import {
  makeCluster as makeLocalCluster,
  readyz,
  type ClusterOptions,
  type Runner,
  type TestCluster,
  waitReady
} from "../../src/sim/local-cluster.js"
import { TEST_DATABASE_URL } from "../support/database.js"

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

/**
 * TEST_REDIS_URL's server, on a database of this vitest worker's own: the runners' shared
 * limits (KIE's createTask, Telegram's 30 messages/s) have fixed keys, and two files'
 * clusters at once would share them.
 */
const redisOfThisWorker = () => {
  const url = new URL(TEST_REDIS_URL)
  url.pathname = `/${Number(process.env.VITEST_POOL_ID ?? 0) % 16}`
  return url.toString()
}

/** A cluster on TEST_DATABASE_URL's server and TEST_REDIS_URL's; CLUSTER_LOG_DIR=dir keeps every runner's output there. */
export const makeCluster = (options: Partial<ClusterOptions> = {}) =>
  makeLocalCluster({ adminDatabaseUrl: TEST_DATABASE_URL, redisUrl: redisOfThisWorker(), logDir: process.env.CLUSTER_LOG_DIR, ...options })

const deliveringJobs = async (cluster: TestCluster) =>
  (await cluster.query<{ id: string }>(`SELECT id FROM jobs WHERE state = 'delivering'`)).map((row) => row.id)

/**
 * `kill -9` of `victim`, and the jobs that were delivering at the kill, which bound the
 * videos it may make twice: read before the signal and again once the process is gone. A
 * job that reached `delivering` between the first read and the signal may have sent its
 * video; its row stays as the kill left it until its shard moves, seconds later (on a
 * loaded machine the chaos step once counted 9 repeated videos against 8 read before).
 */
export const killNotingDelivering = async (cluster: TestCluster, victim: Runner): Promise<ReadonlySet<string>> => {
  const delivering = new Set(await deliveringJobs(cluster))
  victim.child.kill("SIGKILL")
  await victim.exited
  for (const id of await deliveringJobs(cluster)) delivering.add(id)
  return delivering
}

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

/** @effect/cluster 0.60's entity-to-shard hash (internal/hash.ts), for the reports below. */
const clusterHash = (entityId: string) => {
  let h = 5381, i = entityId.length
  while (i) h = (h * 33) ^ entityId.charCodeAt(--i)
  return (h & 0xbfffffff) | ((h >>> 1) & 0x40000000)
}
/** The shard (of the default group's 300, src/cluster/runner.ts) an entity id lives on. */
export const shardOfEntity = (entityId: string) => Math.abs(clusterHash(entityId) % 300) + 1

/**
 * Where the cluster stands for some entities whose messages go unhandled: each one's shard,
 * which session holds that shard's advisory lock (its application name names the runner,
 * src/storage/pg-pool.ts; a runner with two holding sessions has a lock its lock connection
 * does not know of), the runners' rows as the cluster sees them, and each runner's own
 * count of shards (/readyz). Enough to tell a shard nobody took from one its runner lost.
 */
export const shardReport = async (cluster: TestCluster, entityIds: ReadonlyArray<string>) => {
  const shards = [...new Set(entityIds.map(shardOfEntity))].sort((a, b) => a - b)
  const holders = await cluster.query(
    `SELECT (l.objid::bigint % 1000000) AS shard, l.pid, a.application_name, a.state, a.backend_start
       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND (l.objid::bigint % 1000000) = ANY($1::bigint[])
      ORDER BY 1`,
    [shards]
  )
  const sessions = await cluster.query(
    `SELECT a.application_name, l.pid, COUNT(*) AS locks
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted GROUP BY 1, 2 ORDER BY 1, 2`
  )
  const runnerRows = await cluster.query(
    `SELECT address, healthy, last_heartbeat, now() AS now FROM cluster_runners ORDER BY address`
  )
  const views = await Promise.all(cluster.runners.map(async (runner) => ({
    name: runner.name,
    runnerPort: runner.runnerPort,
    exited: runner.child.exitCode ?? runner.child.signalCode,
    readyz: runner.child.exitCode === null && runner.child.signalCode === null ? (await readyz(runner)).body : undefined
  })))
  return [
    `shards of ${entityIds.join(", ")}: ${shards.join(", ")}`,
    `their advisory locks: ${JSON.stringify(holders)}`,
    `sessions holding advisory locks: ${JSON.stringify(sessions)}`,
    `cluster_runners: ${JSON.stringify(runnerRows)}`,
    `runners' own view: ${JSON.stringify(views)}`
  ].join("\n")
}
