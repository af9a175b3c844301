/**
 * A user's next update while their new job starts on the other runner (src/jobs/job-starts.ts).
 * The wake of a job on another runner is answered only when that runner's run of it returns,
 * and the first run transfers the photo: with every photo download held, a user entity that
 * waited for that answer would leave the user's /balance unanswered until the downloads went
 * on. With two runners, about half of the users' jobs live on the runner their user does not.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { checkInvariants, makeCluster } from "./support.js"
import { readyz, sendPhotos, TERMINAL, type TestCluster, until, waitReady } from "../../src/sim/local-cluster.js"

const USERS = 16

let cluster: TestCluster

const count = async (sql: string, values?: Array<unknown>) =>
  Number((await cluster.query<{ n: string }>(sql, values))[0]!.n)

describe("a job that starts on another runner than its user's entity", () => {
  beforeAll(async () => {
    // A permit for every photo on either runner: all downloads are under way at once.
    cluster = await makeCluster({ runnerEnv: { MAX_CONCURRENT_TRANSFERS: String(USERS) } })
  }, 60_000)

  afterAll(async () => {
    await cluster?.close()
  }, 60_000)

  it("does not hold the user's next update back while its photo is on its way", async () => {
    const [a, b] = [await cluster.start("A"), await cluster.start("B")]
    await Promise.all([waitReady(a), waitReady(b)])
    await until("both runners hold shards", async () => {
      const [ra, rb] = [await readyz(a), await readyz(b)]
      return Number(ra.body.shards) > 0 && Number(rb.body.shards) > 0 && Number(ra.body.shards) + Number(rb.body.shards) === 300
    }, 30_000)

    const release = cluster.telegram.fileDownloads.hold()
    try {
      const users = sendPhotos(cluster, 70_001, USERS, 1)
      await until(`${USERS} jobs admitted`, async () => (await count(`SELECT COUNT(*) AS n FROM jobs`)) === USERS, 60_000)
      // Every job's photo download has begun, and waits. A run cut off mid-download (a runner
      // that gave up its shards when a lock refresh was starved) hangs up and downloads again.
      await until("every photo download under way", () => cluster.telegram.fileDownloads.inFlight === USERS, 30_000)
        .catch(async (error) => {
          const { abandoned, inFlight, total } = cluster.telegram.fileDownloads
          const states = await cluster.query<{ state: string; n: string }>(`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`)
          const noted = [a, b].map((runner) =>
            runner.output().split("\n").filter((line) => /\b(WARN|ERROR|FATAL)\b/.test(line)).slice(-10).join("\n")
          )
          throw new Error(
            `${String(error)}; downloads in flight ${inFlight}, begun ${total}, abandoned ${abandoned}; ` +
              `jobs ${JSON.stringify(states)}\nrunner A:\n${noted[0]}\nrunner B:\n${noted[1]}`
          )
        })

      const asked = Date.now()
      for (const userId of users) cluster.telegram.user(userId).sendCommand("balance")
      const answered = () =>
        users.filter((userId) => cluster.telegram.sentMessages(userId).some((m) => m.text?.startsWith("Balance:") === true))
      await until("every user's /balance answered", () => answered().length === USERS, 20_000).catch((error) => {
        const waiting = users.filter((userId) => !answered().includes(userId))
        throw new Error(`${String(error)}; unanswered: ${waiting.join(", ")}`)
      })
      const answeredAfterMs = Date.now() - asked
      // Still held: the answers did not wait for the downloads.
      expect(cluster.telegram.fileDownloads.inFlight).toBe(USERS)
      expect(await count(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'delivered'`)).toBe(0)

      release()
      await until("every job terminal", async () =>
        (await count(`SELECT COUNT(*) AS n FROM jobs WHERE state = ANY($1::text[])`, [TERMINAL])) === USERS, 120_000)
      const result = await checkInvariants(cluster, users)
      console.log(`[remote job start] ${USERS} users answered in ${answeredAfterMs} ms with every download held; ${JSON.stringify(result)}`)
      expect(result.byState).toEqual({ delivered: USERS })
      expect(result.ledgerMismatches).toEqual([])
      expect(result.duplicateVideos).toBe(0)
    } finally {
      release()
    }
  }, 240_000)
})
