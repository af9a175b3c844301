/**
 * Issue #7, failover: three runner processes on Postgres + Redis with both simulators
 * (generation ~3 s), 150 jobs from 50 simulated users (3 photos each, paid by free
 * tokens; FAILOVER_JOBS=300 for the issue's volume). kill -9 one runner while jobs are in every state; later kill a second one and
 * start a new runner. Every job must be terminal within FAILOVER_DRAIN_BOUND_MS of the
 * first photo, delivered (no faults are injected), money conserved in SQL, one KIE task
 * per submission (orphans only from a kill between createTask and its checkpoint), and the
 * duplicate videos counted and explained.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  checkInvariants,
  formatMoney,
  kieRateReport,
  killNotingDelivering,
  makeCluster,
  moneyReport,
  runnerTimeline
} from "../cluster/support.js"
import {
  FAILOVER_BOUND_MS,
  type Runner,
  sendPhotos,
  shardsOf,
  TERMINAL,
  type TestCluster,
  until
} from "../../src/sim/local-cluster.js"

const PHOTOS = 3
const USERS = Math.ceil(Number(process.env.FAILOVER_JOBS ?? 150) / PHOTOS)
const JOBS = USERS * PHOTOS
const SHARDS = 300
const DRAIN_BOUND_MS = Number(process.env.FAILOVER_DRAIN_BOUND_MS ?? 300_000)
const KIE_LIMIT = 300

describe(`failover: ${JOBS} jobs from ${USERS} users, two kill -9 and a new runner`, () => {
  let cluster: TestCluster

  beforeAll(async () => {
    cluster = await makeCluster({
      kiePhases: { waitingMs: 500, queuingMs: 500, generatingMs: 2_000 },
      kieRateLimit: { limit: KIE_LIMIT, windowMs: 10_000 },
      callbacks: true,
      runnerEnv: {
        KIE_RATE_LIMIT: String(KIE_LIMIT),
        FREE_TOKENS: String(PHOTOS),
        // A callback lost at a killed runner is caught by the poll at the task's deadline,
        // 30 s after createTask, instead of the first safety-net poll a minute after it.
        KIE_TASK_DEADLINE: "30s"
      }
    })
  }, 60_000)

  afterAll(async () => {
    await cluster?.close()
  }, 60_000)

  it("every job is delivered within the bound, once charged, one KIE task each; duplicate videos counted", async () => {
    const { alive, at, events, startRunner } = runnerTimeline(cluster)
    await startRunner()
    await Promise.all([startRunner(), startRunner()])

    const byState = async () =>
      Object.fromEntries((await cluster.query<{ state: string; n: string }>(`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`))
        .map((row) => [row.state, Number(row.n)])) as Record<string, number>
    const terminalCount = async () => {
      const states = await byState()
      return TERMINAL.reduce((sum, state) => sum + (states[state] ?? 0), 0)
    }

    const start = Date.now()
    events.push(`${at()} ${USERS} users send ${PHOTOS} photos each`)
    const users = sendPhotos(cluster, 50_001, USERS, PHOTOS)

    let withoutTaskAtKills = 0
    const deliveringAtKill = new Set<string>()
    const kill = async (victim: Runner) => {
      const states = await byState()
      withoutTaskAtKills += (states.queued ?? 0) + (states.submitting ?? 0)
      const killedAt = Date.now()
      for (const id of await killNotingDelivering(cluster, victim)) deliveringAtKill.add(id)
      alive.delete(victim)
      events.push(`${at()} kill -9 ${victim.name} (jobs: ${JSON.stringify(states)})`)
      return killedAt
    }

    // First kill once jobs are in every state. `submitting` lasts a moment and a fast machine
    // delivers all 90 within 10 s, so the wish lowers with time: three unfinished states and
    // some delivered; after 3 s two and some delivered; after 10 s any job in flight. The kill
    // must land while work is in flight, or the test proves nothing.
    const unfinishedStates = ["queued", "submitting", "polling", "delivering"]
    let allSeen = false
    await until("jobs in flight in (nearly) every state", async () => {
      const states = await byState()
      const unfinished = unfinishedStates.filter((state) => (states[state] ?? 0) > 0).length
      const elapsed = Date.now() - start
      allSeen = unfinished === 4 && (states.delivered ?? 0) > 0
      const delivered = (states.delivered ?? 0) > 0
      return allSeen || (delivered && unfinished >= 3) || (elapsed > 3_000 && delivered && unfinished >= 2) ||
        (elapsed > 10_000 && unfinished >= 1)
    }, 60_000)
    if (!allSeen) events.push(`${at()} not every state seen at once; killing with what is in flight`)
    const inFlightAtKill = Object.entries(await byState()).filter(([state]) => unfinishedStates.includes(state))
      .reduce((sum, [, n]) => sum + n, 0)
    expect(inFlightAtKill, "jobs in flight at the first kill").toBeGreaterThan(0)
    const first = [...alive][0]!
    const firstKilledAt = await kill(first)
    await until("the survivors own all shards", async () =>
      (await Promise.all([...alive].map(shardsOf))).reduce((a, b) => a + b, 0) === SHARDS, FAILOVER_BOUND_MS + 10_000)
    const failoverMs = Date.now() - firstKilledAt
    events.push(`${at()} survivors own all ${SHARDS} shards (${failoverMs} ms after the kill)`)

    // Later: kill a second runner, then start a new one.
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    const second = [...alive][0]!
    await kill(second)
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    await startRunner()

    // On a timeout the report is still printed; the test fails after it.
    let unfinished = ""
    await until(`all ${JOBS} jobs terminal within ${DRAIN_BOUND_MS} ms`, async () => (await terminalCount()) === JOBS,
      Math.max(1_000, DRAIN_BOUND_MS - (Date.now() - start))).catch(async (error) => {
      const stuck = await cluster.query(
        `SELECT id, state, kie_task_id, attempts, outcome, updated_at FROM jobs WHERE NOT (state = ANY($1::text[])) LIMIT 30`,
        [TERMINAL]
      )
      unfinished = `${error.message}; unfinished (first 30): ${JSON.stringify(stuck)}`
    })
    const drainMs = Date.now() - start
    events.push(`${at()} all jobs terminal`)

    const result = await checkInvariants(cluster, users)
    const money = await moneyReport(cluster, users)
    const [{ attempts }] = await cluster.query<{ attempts: string }>(
      `SELECT COALESCE(SUM(attempts), 0) AS attempts FROM jobs WHERE user_id = ANY($1::bigint[])`,
      [users]
    ) as [{ attempts: string }]
    const rate = kieRateReport(cluster)
    const proxy = cluster.callbackProxy!.stats()
    console.log([
      `[failover] ${JOBS} jobs from ${USERS} users, 3 runners, generation ~3 s, drain bound ${DRAIN_BOUND_MS / 1000} s`,
      `[failover] jobs by final state: ${JSON.stringify(result.byState)}`,
      `[failover] ${unfinished === "" ? "" : `NOT DRAINED: ${unfinished}\n[failover] `}time to drain: ${(drainMs / 1000).toFixed(1)} s from the first photo; shards re-owned ${failoverMs} ms after the first kill (bound ${FAILOVER_BOUND_MS} ms)`,
      `[failover] ${formatMoney(money)}`,
      `[failover] duplicate videos: ${result.duplicateVideos} (${result.videos} videos for ${result.byState.delivered ?? 0} delivered; ` +
      `${deliveringAtKill.size} job(s) were delivering at the kills)`,
      `[failover] KIE tasks ${result.kieTasks} vs submissions recorded ${attempts}: orphans ${result.orphanTasks} ` +
      `(${withoutTaskAtKills} job(s) queued/submitting at the kills)`,
      `[failover] KIE request rate: createTask admitted max ${rate.maxAdmittedPerWindow} per 10 s (limit ${KIE_LIMIT}), ` +
      `arrivals max ${rate.createTask.maxPerSecond}/s, all requests max ${rate.all.maxPerSecond}/s; callbacks ${proxy.forwarded} forwarded, ${proxy.failed} lost`,
      `[failover] events: ${events.join("; ")}`
    ].join("\n"))

    expect(unfinished, "every job terminal within the bound").toBe("")
    expect(result.jobs).toBe(JOBS)
    expect(result.byState).toEqual({ delivered: JOBS })
    expect(failoverMs).toBeLessThan(FAILOVER_BOUND_MS)
    expect(money.conserved, formatMoney(money)).toBe(true)
    expect(money.duplicateCharges).toBe(0)
    expect(result.ledgerMismatches).toEqual([])
    expect(result.jobsWithoutOneTask).toEqual([])
    expect(result.kieTasks).toBe(Number(attempts) + result.orphanTasks)
    expect(result.orphanTasks).toBeLessThanOrEqual(withoutTaskAtKills)
    expect(result.duplicateVideos).toBeLessThanOrEqual(deliveringAtKill.size)
    expect(result.videos).toBe(JOBS + result.duplicateVideos)
    expect(rate.maxAdmittedPerWindow).toBeLessThanOrEqual(KIE_LIMIT)
  }, 600_000)
})
