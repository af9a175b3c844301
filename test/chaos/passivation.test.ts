/**
 * Issue #18's acceptance for passivated jobs, on a real cluster (two runner processes on
 * Postgres, src/sim/local-cluster.ts, KIE callbacks on as in production): 1,000 jobs waiting
 * for KIE (its clock held still) leave no job entity in memory (the runners'
 * `effect_cluster_entities` gauge) between their safety-net polls, and after a `kill -9` of
 * one runner they all complete once on the other.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { checkInvariants, makeCluster } from "../cluster/support.js"
import { type Runner, sendPhotos, shardsOf, type TestCluster, until, waitReady } from "../../src/sim/local-cluster.js"

/** The 1,000 by default; PASSIVATION_JOBS for a loaded machine. */
const JOBS = Number(process.env.PASSIVATION_JOBS ?? 1_000)

const jobEntities = async (runner: Runner) => {
  const text = await (await fetch(`http://127.0.0.1:${runner.httpPort}/metrics`)).text()
  const match = /^effect_cluster_entities\{[^}]*type="Job"[^}]*\} (\S+)$/m.exec(text)
  return match === null ? 0 : Number(match[1])
}

const countIn = async (cluster: TestCluster, state: string) =>
  Number((await cluster.query<{ n: string }>(`SELECT count(*) AS n FROM jobs WHERE state = $1`, [state]))[0]!.n)

describe(`passivated jobs: ${JOBS} waiting for KIE`, () => {
  let cluster: TestCluster

  beforeAll(async () => {
    cluster = await makeCluster({
      kieClock: "manual",
      kieRateLimit: false,
      callbacks: true,
      runnerEnv: { KIE_RATE_LIMIT: "1000", FREE_TOKENS: "1", MAX_JOBS_IN_FLIGHT: "5" }
    })
    // One after the other: the cluster's own migrations are not safe to run twice at once.
    await waitReady(await cluster.start("R1"))
    await waitReady(await cluster.start("R2"))
  }, 180_000)

  afterAll(async () => {
    await cluster?.close()
  }, 60_000)

  it("hold no job entity while they wait, and all complete once after a runner is killed", async () => {
    const users = sendPhotos(cluster, 8_100_000, JOBS, 1)
    await until("every job submitted to KIE", async () => (await countIn(cluster, "polling")) === JOBS, 480_000)

    // Entities idle out 5 s after their last step; the reaper looks every 5 s.
    let active = Number.POSITIVE_INFINITY
    await until("the job entities reaped while their jobs wait", async () => {
      active = (await Promise.all(cluster.runners.map(jobEntities))).reduce((sum, n) => sum + n, 0)
      return active <= JOBS / 100
    }, 90_000)
    expect(active).toBeLessThanOrEqual(JOBS / 100)
    expect(await countIn(cluster, "polling")).toBe(JOBS)

    const shards = (await Promise.all(cluster.runners.map(shardsOf))).reduce((sum, n) => sum + n, 0)
    cluster.runners[0]!.child.kill("SIGKILL")
    await until("the survivor owns every shard", async () => (await shardsOf(cluster.runners[1]!)) === shards, 60_000)
    // KIE finishes every task and calls back; the survivor wakes each job.
    await cluster.kie.advance(300_000)
    await until("every job delivered", async () => (await countIn(cluster, "delivered")) === JOBS, 300_000)

    const invariants = await checkInvariants(cluster, users)
    expect(invariants.byState).toEqual({ delivered: JOBS })
    expect(invariants.kieTasks).toBe(JOBS)
    expect(invariants.orphanTasks).toBe(0)
    expect(invariants.duplicateVideos).toBe(0)
    expect(invariants.ledgerMismatches).toEqual([])
  }, 1_200_000)
})
