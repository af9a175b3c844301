/**
 * Issue #9, failover benchmark: three runner processes (src/main.ts) on a fresh Postgres
 * database + Redis, both simulators on loopback, N jobs in flight (default 1,000: 250
 * users × 4 photos, every job at KIE with its task held "generating" by the simulator's
 * manual clock), then kill -9 of the runner holding the most shards. At the kill the tasks
 * are released (KIE finishes them all and calls back through a round-robin proxy to the
 * live runners), and the benchmark measures, from the kill:
 *
 *   - shards re-owned: the survivors' /readyz shard counts add up to 300 again;
 *   - first job moves: the first job on one of the victim's shards changes its row;
 *   - all its jobs terminal: every job on the victim's shards is delivered/refunded/failed;
 *   - all jobs terminal (for comparison: the survivors' own jobs).
 *
 * The victim's shards are the Postgres advisory locks its lock connection held (the
 * cluster locks shard N as 1,000,000 + N); its jobs are the jobs whose entities those
 * shards hold (the cluster's shard of an entity id, `shardOfJob`). Prints a table and
 * writes bench/results/failover.json.
 *
 *   npm run bench:failover [-- --jobs 1000 --runs 1 --intake-timeout 330]
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { parseArgs } from "node:util"
import {
  makeCluster,
  type Runner,
  sendPhotos,
  shardsOf,
  TERMINAL,
  TIMINGS,
  until,
  waitReady
} from "../src/sim/local-cluster.js"
import { SHARDS_PER_GROUP } from "../src/cluster/runner.js"
import { clearLimiters, DATABASE_ADMIN_URL, REDIS_URL } from "./support.js"

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "1000" },
    runs: { type: "string", default: "1" },
    "intake-timeout": { type: "string", default: "330" },
    "drain-timeout": { type: "string", default: "180" }
  }
})
const PHOTOS = 4
const JOBS = Number(args.jobs)
const USERS = Math.ceil(JOBS / PHOTOS)
const RUNS = Number(args.runs)
const INTAKE_TIMEOUT_MS = Number(args["intake-timeout"]) * 1000
const DRAIN_TIMEOUT_MS = Number(args["drain-timeout"]) * 1000
const SHARDS = SHARDS_PER_GROUP

/**
 * The shard of a job's entity, as @effect/cluster 0.60 computes it (Sharding's
 * `getShardId`: a djb2-style string hash modulo the shards per group, plus 1). Its hash is
 * internal to the package, so it is repeated here; a change of it shows as 0 victim jobs.
 */
const shardOfJob = (jobId: string): number => {
  let h = 5381
  for (let i = jobId.length; i > 0;) h = (h * 33) ^ jobId.charCodeAt(--i)
  const optimized = (h & 0xbfffffff) | ((h >>> 1) & 0x40000000)
  return Math.abs(optimized % SHARDS_PER_GROUP) + 1
}

interface RunResult {
  readonly jobs: number
  readonly inFlightAtKill: number
  readonly intakeSeconds: number
  readonly victim: string
  readonly victimShards: number
  readonly victimJobs: number
  readonly victimJobsUnfinishedAtKill: number
  readonly shardsReownedMs: number | null
  readonly firstJobMovedMs: number | null
  readonly victimJobsTerminalMs: number | null
  readonly allJobsTerminalMs: number | null
  readonly finalStates: Record<string, number>
  readonly loadAverageAtKill: number
}

const log = (line: string) => process.stderr.write(`[bench:failover] ${line}\n`)

const runOnce = async (run: number): Promise<RunResult> => {
  // The benchmarks' own Redis database: no test's limiter keys, and none left by a last run.
  await clearLimiters()
  const cluster = await makeCluster({
    adminDatabaseUrl: DATABASE_ADMIN_URL,
    redisUrl: REDIS_URL,
    kieClock: "manual",
    callbacks: true,
    runnerEnv: { KIE_RATE_LIMIT: "1000", FREE_TOKENS: String(PHOTOS) }
  })
  try {
    const t0 = Date.now()
    const start = async (name: string) => {
      const runner = await cluster.start(name)
      await waitReady(runner)
      log(`run ${run}: ${name} ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      return runner
    }
    const runners: Array<Runner> = [await start("A")]
    runners.push(...await Promise.all([start("B"), start("C")]))
    await until("all shards owned", async () => (await Promise.all(runners.map(shardsOf))).reduce((a, b) => a + b, 0) === SHARDS, 60_000)

    const count = async (states: ReadonlyArray<string>) =>
      Number((await cluster.query<{ n: string }>(`SELECT COUNT(*) AS n FROM jobs WHERE state = ANY($1::text[])`, [states]))[0]!.n)
    const intakeStart = Date.now()
    sendPhotos(cluster, 60_001, USERS, PHOTOS)
    // Every job at KIE, its task held "generating" (or the intake timeout, reported).
    let loggedAt = 0
    const ok = await until(`${JOBS} jobs polling`, async () => {
      const polling = await count(["polling"])
      if (Date.now() - loggedAt >= 15_000) {
        loggedAt = Date.now()
        log(`run ${run}: ${polling} jobs polling after ${((Date.now() - intakeStart) / 1000).toFixed(0)} s`)
      }
      return polling >= JOBS
    }, INTAKE_TIMEOUT_MS).then(() => true, () => false)
    const intakeSeconds = (Date.now() - intakeStart) / 1000
    const inFlightAtKill = await count(["queued", "submitting", "polling", "delivering"])
    if (!ok) log(`run ${run}: only ${inFlightAtKill} of ${JOBS} jobs in flight after ${intakeSeconds.toFixed(0)} s; killing anyway`)

    // The victim: the runner with the most shards; its shards from its advisory locks.
    const shardCounts = await Promise.all(runners.map(shardsOf))
    const victim = runners[shardCounts.indexOf(Math.max(...shardCounts))]!
    const locksBefore = await cluster.query<{ pid: number; objid: string }>(
      `SELECT pid, objid::text FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
    )
    const loadAverageAtKill = (await import("node:os")).loadavg()[0]!
    const killedAt = Date.now()
    victim.child.kill("SIGKILL")
    // Release every task now: KIE finishes them and calls back to the live runners.
    void cluster.kie.advance(60_000)
    await victim.exited
    // The lock holder that is gone is the victim (its connection dropped with the process).
    await until("the victim's lock connection is gone", async () => {
      const pids = new Set((await cluster.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity`)).map((row) => row.pid))
      return locksBefore.some((lock) => !pids.has(lock.pid))
    }, 30_000)
    const pidsAfter = new Set((await cluster.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity`)).map((row) => row.pid))
    const victimShards = [...new Set(locksBefore.filter((lock) => !pidsAfter.has(lock.pid)).map((lock) => Number(lock.objid) - 1_000_000))]
    const onVictim = new Set(victimShards)
    const victimJobs = (await cluster.query<{ id: string }>(`SELECT id FROM jobs`))
      .map((row) => row.id)
      .filter((id) => onVictim.has(shardOfJob(id)))
    const unfinishedAtKill = Number((await cluster.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM jobs WHERE id = ANY($1::text[]) AND NOT (state = ANY($2::text[])) AND updated_at < to_timestamp($3::double precision / 1000)`,
      [victimJobs, TERMINAL, killedAt]
    ))[0]!.n)
    log(`run ${run}: killed ${victim.name} (${victimShards.length} shards, ${victimJobs.length} jobs) with ${inFlightAtKill} jobs in flight`)

    const survivors = runners.filter((runner) => runner !== victim)
    const since = (from: number) => Date.now() - from
    const milestones = { shards: null as number | null, moved: null as number | null, victimDone: null as number | null, allDone: null as number | null }
    const deadline = killedAt + DRAIN_TIMEOUT_MS
    while (Date.now() < deadline && (milestones.victimDone === null || milestones.allDone === null || milestones.shards === null)) {
      if (milestones.shards === null && (await Promise.all(survivors.map(shardsOf))).reduce((a, b) => a + b, 0) === SHARDS) {
        milestones.shards = since(killedAt)
      }
      if (milestones.moved === null) {
        const moved = await cluster.query<{ at: string }>(
          `SELECT (EXTRACT(EPOCH FROM MIN(updated_at)) * 1000)::bigint::text AS at FROM jobs
            WHERE id = ANY($1::text[]) AND updated_at >= to_timestamp($2::double precision / 1000)`,
          [victimJobs, killedAt]
        )
        if (moved[0]?.at !== null && moved[0]?.at !== undefined) milestones.moved = Number(moved[0].at) - killedAt
      }
      if (milestones.victimDone === null) {
        const open = Number((await cluster.query<{ n: string }>(
          `SELECT COUNT(*) AS n FROM jobs WHERE id = ANY($1::text[]) AND NOT (state = ANY($2::text[]))`,
          [victimJobs, TERMINAL]
        ))[0]!.n)
        if (open === 0) milestones.victimDone = since(killedAt)
      }
      // Against the jobs that exist: a photo the bot dropped makes no job (reported as in flight < jobs).
      if (milestones.allDone === null && (await count(TERMINAL)) === (await count([...TERMINAL, "queued", "submitting", "polling", "delivering"]))) {
        milestones.allDone = since(killedAt)
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const finalStates = Object.fromEntries(
      (await cluster.query<{ state: string; n: string }>(`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`)).map((row) => [row.state, Number(row.n)])
    )
    return {
      jobs: USERS * PHOTOS,
      inFlightAtKill,
      intakeSeconds,
      victim: victim.name,
      victimShards: victimShards.length,
      victimJobs: victimJobs.length,
      victimJobsUnfinishedAtKill: unfinishedAtKill,
      shardsReownedMs: milestones.shards,
      firstJobMovedMs: milestones.moved,
      victimJobsTerminalMs: milestones.victimDone,
      allJobsTerminalMs: milestones.allDone,
      finalStates,
      loadAverageAtKill
    }
  } finally {
    await cluster.close()
  }
}

const fmt = (ms: number | null) => (ms === null ? "not reached" : `${(ms / 1000).toFixed(1)} s`)

const main = async () => {
  const startedAt = Date.now()
  const results: Array<RunResult> = []
  for (let run = 1; run <= RUNS; run++) results.push(await runOnce(run))
  const rows = results.map((r, i) =>
    `| ${i + 1} | ${r.inFlightAtKill} / ${r.jobs} | ${r.victimShards} shards, ${r.victimJobs} jobs | ${fmt(r.shardsReownedMs)} | ` +
    `${fmt(r.firstJobMovedMs)} | ${fmt(r.victimJobsTerminalMs)} | ${fmt(r.allJobsTerminalMs)} | ${r.loadAverageAtKill.toFixed(1)} |`
  )
  const table = [
    `Failover: 3 runners, kill -9 of the runner with the most shards (timings ${JSON.stringify(TIMINGS)}); times from the kill`,
    "",
    "| run | jobs in flight at the kill | victim held | shards owned again | its first job moves | all its jobs terminal | all jobs terminal | load avg (1 min) |",
    "|---|---|---|---|---|---|---|---|",
    ...rows
  ].join("\n")
  console.log(table)
  for (const r of results) console.log(`final states: ${JSON.stringify(r.finalStates)}; intake ${r.intakeSeconds.toFixed(0)} s`)
  mkdirSync("bench/results", { recursive: true })
  writeFileSync("bench/results/failover.json", JSON.stringify({
    benchmark: "failover",
    at: new Date().toISOString(),
    timings: TIMINGS,
    jobs: JOBS,
    runs: results,
    wallSeconds: (Date.now() - startedAt) / 1000
  }, null, 2))
  console.log(`wrote bench/results/failover.json (${((Date.now() - startedAt) / 1000).toFixed(0)} s)`)
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
