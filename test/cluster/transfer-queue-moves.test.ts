/**
 * A runner's photo-transfer queue (src/jobs/photo-uploads.ts) when a second runner joins and
 * takes half of the shards: the queue's jobs wait on a long lease, and those whose shard
 * moved must not wait it out. The queue gives them up at once (their rows due now) and they
 * queue on their new runner; every photo still becomes one video.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { checkInvariants, makeCluster } from "./support.js"
import { queuedTransferLeaseMs } from "../../src/jobs/job-policy.js"
import { readyz, sendPhotos, TERMINAL, type TestCluster, until, waitReady } from "../../src/sim/local-cluster.js"

const JOBS = 12
const moveLine = "queued photo transfer(s) left to the runners their jobs moved to"

let cluster: TestCluster

describe("a transfer queue whose shards move to a runner that joins", () => {
  beforeAll(async () => {
    // One permit per runner: every photo but the first waits in the queue.
    cluster = await makeCluster({ runnerEnv: { MAX_CONCURRENT_TRANSFERS: "1" } })
  }, 60_000)

  afterAll(async () => {
    await cluster?.close()
  }, 60_000)

  const queuedOnLongLease = async () => {
    const rows = await cluster.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'submitting') AND due_at_ms > $1`,
      [Date.now() + queuedTransferLeaseMs / 2]
    )
    return Number(rows[0]!.n)
  }

  it("the jobs of the shards that moved are given up at once and queue on the new runner; all become videos", async () => {
    const a = await cluster.start("A")
    await waitReady(a)
    const release = cluster.telegram.fileDownloads.hold()
    try {
      const users = sendPhotos(cluster, 50_001, JOBS, 1)
      await until(`${JOBS} jobs admitted`, async () =>
        Number((await cluster.query<{ n: string }>(`SELECT COUNT(*) AS n FROM jobs`))[0]!.n) === JOBS, 60_000)
      // The run holding the permit keeps a step's lease; the others wait on the queue's (still
      // queued, or submitting when their run found no permit for the photo).
      await until("the queued photos on the queue's long lease", async () => (await queuedOnLongLease()) >= JOBS - 1, 20_000)
      // The permit's photo is on its way (its getFile call comes first, and on a loaded machine
      // may still be under way); with one permit and downloads held, no other is. (Counted in
      // flight, not begun: a runner that gives up its shards on a starved lock refresh cuts
      // the download, and its next run begins it again.)
      await until("the permit's photo download under way", () => cluster.telegram.fileDownloads.inFlight >= 1, 20_000)
      expect(cluster.telegram.fileDownloads.inFlight).toBe(1)

      const b = await cluster.start("B")
      await waitReady(b)
      await until("both runners hold shards", async () => {
        const [ra, rb] = [await readyz(a), await readyz(b)]
        return Number(ra.body.shards) > 0 && Number(rb.body.shards) > 0 && Number(ra.body.shards) + Number(rb.body.shards) === 300
      }, 30_000)
      const rebalancedAt = Date.now()
      // Well inside the step's lease (1 minute) that the jobs would otherwise have waited out.
      await until("runner A gives up the queued jobs whose shard moved", () => a.output().includes(moveLine), 15_000)
      const givenUpAfterMs = Date.now() - rebalancedAt

      release()
      await until("every job terminal", async () =>
        Number((await cluster.query<{ n: string }>(`SELECT COUNT(*) AS n FROM jobs WHERE state = ANY($1::text[])`, [TERMINAL]))[0]!.n) ===
          JOBS, 120_000)
      const result = await checkInvariants(cluster, users)
      console.log(`[transfer queue] given up ${givenUpAfterMs} ms after the rebalance; ${JSON.stringify(result)}`)
      expect(result.byState).toEqual({ delivered: JOBS })
      expect(result.ledgerMismatches).toEqual([])
      expect(result.jobsWithoutOneTask).toEqual([])
      expect(result.videos).toBe(JOBS + result.duplicateVideos)
      expect(result.duplicateVideos).toBe(0)
    } finally {
      release()
    }
  }, 240_000)
})
