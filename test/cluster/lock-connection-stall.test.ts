/**
 * A runner whose shard-lock connection stalls gets its shards back, and the stalled session
 * does not outlive the stall. The runner storage holds the shard locks as session advisory
 * locks on one connection (docs/architecture.md, "Cluster pitfalls"); when that connection's
 * Postgres backend stops answering for longer than a lock deadline, the runner gives up its
 * shards, unlocks and rebuilds the connection, and takes them again on the new one. The
 * unlock misses its deadline too (the backend is still stopped), so the old session keeps
 * every lock. The product's pool closes such a connection (src/storage/pg-pool.ts); the
 * pool before it lent it out again. Here, with nothing else asking the pool, it came straight
 * back as the new lock connection and the runner got its shards back by that luck; the test
 * fails there because the stalled session survives with every lock. A connection lent to
 * another query instead (a busy pool serves its waiters first) would have kept the shards
 * from every runner.
 *
 * The stall is real: the backend process is stopped with SIGSTOP and resumed with SIGCONT.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeCluster, shardReport } from "./support.js"
import { type Runner, sendPhotos, shardsOf, type TestCluster, until, waitReady } from "../../src/sim/local-cluster.js"

const SHARDS = 300
const USERS = 20

let cluster: TestCluster
let runner: Runner

/** The runner's sessions that hold shard locks, most locks first: its lock connection, and any it lost track of. */
const lockHolders = () =>
  cluster.query<{ pid: number; locks: string }>(
    `SELECT l.pid, COUNT(*) AS locks FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE $1
      GROUP BY l.pid ORDER BY COUNT(*) DESC`,
    [`% 127.0.0.1:${runner.runnerPort}`]
  )

describe("a stalled shard-lock connection", () => {
  beforeAll(async () => {
    cluster = await makeCluster({ kiePhases: { waitingMs: 100, queuingMs: 100, generatingMs: 500 } })
    runner = await cluster.start("R1")
    await waitReady(runner)
    await until("all shards taken", async () => (await shardsOf(runner)) === SHARDS, 30_000)
  }, 120_000)

  afterAll(async () => {
    await cluster?.close()
  }, 60_000)

  it("costs the runner its shards for a moment, not for good: every photo is then handled, and the stalled session is gone", async () => {
    const [holder] = await lockHolders()
    expect(Number(holder?.locks)).toBe(SHARDS)
    const pid = holder!.pid

    // Longer than a lock deadline (SHARD_LOCK_REFRESH 2 s) and the unlock's after it.
    process.kill(pid, "SIGSTOP")
    try {
      await until("the runner gives its shards up", async () => (await shardsOf(runner)) < SHARDS, 20_000)
      await new Promise((resolve) => setTimeout(resolve, 3_000))
    } finally {
      process.kill(pid, "SIGCONT")
    }

    const users = sendPhotos(cluster, 70_001, USERS, 1)
    const handled = async () =>
      Number((await cluster.query<{ n: string }>(
        `SELECT COUNT(*) AS n FROM telegram_inbox WHERE handled_at_ms IS NOT NULL AND user_id = ANY($1::bigint[])`,
        [users]
      ))[0]!.n)
    await until("every shard taken again and every photo handled", async () =>
      (await shardsOf(runner)) === SHARDS && (await handled()) === USERS, 45_000).catch(async (error) => {
      throw new Error(`${(error as Error).message}: ${await handled()} of ${USERS} handled, ${await shardsOf(runner)} shards\n` +
        `${await shardReport(cluster, users.map(String))}`)
    })
    // The stalled session is gone, and the locks are all on the runner's new connection.
    const holders = await lockHolders()
    expect(holders.map((row) => row.pid)).not.toContain(pid)
    expect(holders.map((row) => Number(row.locks))).toEqual([SHARDS])
  }, 120_000)
})
