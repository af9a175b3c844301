/**
 * Issue #7, chaos: 400 jobs (100 users × 4 photos, paid by free tokens) on three runner
 * processes while the KIE simulator injects seeded faults (20 % transient errors on
 * createTask/recordInfo, 5 % content-policy failures, 2 % tasks that never finish, lost and
 * duplicated callbacks), the Bot API simulator injects 429 bursts, 5xx and blocked users,
 * and a runner is killed with SIGKILL and replaced. KIE calls back through a round-robin
 * proxy to the live runners (PUBLIC_URL), so a callback to a dead runner is lost.
 *
 * At the end: every job terminal within the bound, no job "failed" (refund not possible),
 * money conserved (SQL sums), no duplicate charge, one KIE task per submission except
 * orphans from a kill between createTask and its checkpoint, duplicate videos counted,
 * KIE's admitted createTask rate under the limit, and no secret in any output or row.
 * Scale with CHAOS_JOBS (multiple of 4; the issue's volume is 1000), reseed with CHAOS_SEED.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { seededRandom } from "../support/runner.js"
import {
  checkInvariants,
  formatMoney,
  kieRateReport,
  killNotingDelivering,
  makeCluster,
  moneyReport,
  outcomeReport,
  runnerTimeline,
  scanSecrets,
  shardReport
} from "../cluster/support.js"
import { sendPhotos, shardsOf, TERMINAL, type TestCluster, until } from "../../src/sim/local-cluster.js"

const SEED = Number(process.env.CHAOS_SEED ?? 7)
const JOBS = Number(process.env.CHAOS_JOBS ?? 400)
const PHOTOS = 4
const USERS = Math.ceil(JOBS / PHOTOS)
/** The account's createTask limit for this run (per 10 s), in the runners and in the simulator. */
const KIE_LIMIT = Number(process.env.CHAOS_KIE_LIMIT ?? 300)
/** Every job must be terminal this long after the first photo. */
const DRAIN_BOUND_MS = Number(process.env.CHAOS_DRAIN_BOUND_MS ?? 480_000)
const BLOCKED_USERS = Math.max(1, Math.round(USERS * 0.02))

describe(`chaos: ${JOBS} jobs, KIE and Bot API faults, a runner killed and replaced (seed ${SEED})`, () => {
  let cluster: TestCluster

  beforeAll(async () => {
    cluster = await makeCluster({
      kiePhases: { waitingMs: 300, queuingMs: 300, generatingMs: 2_000 },
      kieRateLimit: { limit: KIE_LIMIT, windowMs: 10_000 },
      kieChaos: {
        seed: SEED,
        transientRate: 0.2,
        contentPolicyRate: 0.05,
        stuckRate: 0.02,
        loseCallbackRate: 0.1,
        duplicateCallbackRate: 0.1
      },
      telegramFaultSeed: SEED,
      callbacks: true,
      runnerEnv: {
        KIE_RATE_LIMIT: String(KIE_LIMIT),
        FREE_TOKENS: String(PHOTOS),
        MAX_JOBS_IN_FLIGHT: "5",
        // Never-finishing tasks end here (a legitimate one takes ~3 s, retries included
        // well under it); the drain waits for the last of them.
        KIE_TASK_DEADLINE: "30s",
        // The product's 10 s first retry (KIE's rate window) makes a job that meets several
        // transient errors in a row wait up to six minutes; the schedule's shape is the same
        // at 2 s (tested in test/kie/retry-schedules.test.ts), and the run stays in CI's budget.
        KIE_RETRY_BASE: "2s"
      }
    })
  }, 60_000)

  afterAll(async () => {
    await cluster?.close()
  }, 60_000)

  it("every job ends terminal, money is conserved, no duplicate charge, KIE under its limit, no secret leaks", async () => {
    const random = seededRandom(SEED)
    const { alive, at, events, startRunner } = runnerTimeline(cluster)
    // The first runner migrates a fresh database alone (concurrent first starts race on it).
    await startRunner()
    await Promise.all([startRunner(), startRunner()])

    // Bot API: 3 % of outgoing messages, edits and videos answer 5xx for the whole run.
    for (const method of ["sendMessage", "editMessageText", "sendVideo"]) {
      cluster.telegram.injectFault({ kind: "server_error", status: 502, method, probability: 0.03 })
    }

    const count = async (states?: ReadonlyArray<string>) =>
      Number((await cluster.query<{ n: string }>(
        states === undefined ? `SELECT COUNT(*) AS n FROM jobs` : `SELECT COUNT(*) AS n FROM jobs WHERE state = ANY($1::text[])`,
        states === undefined ? [] : [states]
      ))[0]!.n)

    // Progress on stderr every 10 s, for whoever watches the run.
    const ticker = setInterval(() => {
      cluster.query<{ state: string; n: string }>(`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state ORDER BY state`)
        .then((rows) => process.stderr.write(`[chaos] ${at()} ${rows.map((r) => `${r.state} ${r.n}`).join(", ")}\n`))
        .catch(() => undefined)
    }, 10_000)

    // Two waves, so that jobs are in every state when the runner dies.
    const start = Date.now()
    events.push(`${at()} wave 1: ${Math.ceil(USERS / 2)} users × ${PHOTOS} photos`)
    const users = sendPhotos(cluster, 40_001, Math.ceil(USERS / 2), PHOTOS)
    const bursts: Array<string> = []
    const burst = (retryAfter: number, times: number) => {
      for (const method of ["sendMessage", "editMessageText", "sendVideo"]) {
        cluster.telegram.injectFault({ kind: "retry_after", retryAfter, method, times })
      }
      bursts.push(`${at()} 429 burst (retry_after ${retryAfter} s, ${times} calls per method)`)
    }
    await new Promise((resolve) => setTimeout(resolve, random.int(8_000, 12_000)))
    burst(random.int(1, 3), 20)
    events.push(`${at()} wave 2: ${USERS - Math.ceil(USERS / 2)} users × ${PHOTOS} photos`)
    users.push(...sendPhotos(cluster, 40_001 + Math.ceil(USERS / 2), USERS - Math.ceil(USERS / 2), PHOTOS))
    // The kill waits for a job delivering and one without its task at once (at most 10 s):
    // a fixed 5–10 s after wave 2 found every job past its createTask on a quiet machine, and
    // 1–3 s found none delivering on a busy one.
    await new Promise((resolve) => setTimeout(resolve, random.int(1_000, 3_000)))
    for (const until = Date.now() + 10_000; Date.now() < until;) {
      if ((await count(["delivering"])) > 0 && (await count(["queued", "submitting"])) > 0) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }

    // kill -9 a random runner with jobs in every state, then start a replacement.
    const states = await cluster.query<{ state: string; n: string }>(`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`)
    const withoutTaskAtKill = await count(["queued", "submitting"])
    const victim = random.pick([...alive])
    const deliveringAtKill = (await killNotingDelivering(cluster, victim)).size
    alive.delete(victim)
    events.push(`${at()} kill -9 ${victim.name} (jobs by state: ${states.map((r) => `${r.state} ${r.n}`).join(", ")})`)
    burst(random.int(1, 3), 30)
    await new Promise((resolve) => setTimeout(resolve, random.int(3_000, 8_000)))
    await startRunner()

    // Which updates were never handled, and every line each runner printed about their users
    // (a log entry is its first line and the indented lines under it).
    const unhandledReport = async () => {
      const rows = await cluster.query<{ user_id: string; update_id: string; received_at_ms: string }>(
        `SELECT user_id, update_id, received_at_ms FROM telegram_inbox WHERE handled_at_ms IS NULL ORDER BY update_id`
      )
      const stuck = [...new Set(rows.map((row) => row.user_id))]
      const about = (output: string) =>
        output.split(/\n(?=\S)/).filter((entry) => stuck.some((userId) => entry.includes(userId))).slice(-60).join("\n")
      return [
        `unhandled updates: ${JSON.stringify(rows)}`,
        await shardReport(cluster, stuck).catch((error) => `(no shard report: ${error})`),
        ...cluster.runners.map((runner) => `--- ${runner.name}, about user(s) ${stuck.join(", ")}\n${about(runner.output())}`)
      ].join("\n")
    }

    // Blocked users: once every job exists, a few users with unfinished jobs block the bot.
    // Every photo handled by its user's entity (its inbox row marked handled); then the
    // jobs that exist are all the jobs there will be.
    const handled = async () =>
      Number((await cluster.query<{ n: string }>(
        `SELECT COUNT(*) AS n FROM telegram_inbox WHERE handled_at_ms IS NOT NULL`
      ))[0]!.n)
    await until(`${JOBS} photos handled`, async () => (await handled()) >= USERS * PHOTOS,
      Math.max(1_000, DRAIN_BOUND_MS - (Date.now() - start))).catch(async (error) => {
      clearInterval(ticker)
      const tails = cluster.runners.map((runner) => `--- ${runner.name}\n${runner.output().slice(-3000)}`).join("\n")
      throw new Error(`${error.message}; events: ${events.join("; ")}\n${await unhandledReport().catch((reportError) => `(no report of the unhandled updates: ${reportError})`)}\n${tails}`)
    })
    await until("jobs of handled photos recorded", async () => (await count()) === USERS * PHOTOS, 10_000).catch(() => undefined)
    const created = await count()
    const photosWithoutJob = USERS * PHOTOS - created
    if (photosWithoutJob > 0) {
      const short = await cluster.query<{ user_id: string; n: string }>(
        `SELECT u.id AS user_id, COUNT(j.id) AS n FROM users u LEFT JOIN jobs j ON j.user_id = u.id
          WHERE u.id = ANY($1::bigint[]) GROUP BY u.id HAVING COUNT(j.id) < $2`,
        [users, PHOTOS]
      )
      const said = short.map(({ user_id, n }) => {
        const texts = cluster.telegram.calls.all()
          .filter((call) => Number(call.params.chat_id) === Number(user_id) && call.method === "sendMessage")
          .map((call) => `${call.outcome.ok ? "" : `[${(call.outcome as { error_code: number }).error_code}] `}${String(call.params.text).slice(0, 60)}`)
        return `user ${user_id}: ${n} job(s); bot said ${JSON.stringify(texts)}`
      })
      console.log(`[chaos] ${photosWithoutJob} photo(s) made no job:\n[chaos]   ${said.join("\n[chaos]   ")}`)
    }
    events.push(`${at()} all ${USERS * PHOTOS} photos handled, ${created} jobs`)
    const open = await cluster.query<{ user_id: string }>(
      `SELECT user_id FROM jobs WHERE state NOT IN ('delivered', 'refunded', 'failed', 'delivering')
        GROUP BY user_id ORDER BY COUNT(*) DESC, user_id LIMIT $1`,
      [BLOCKED_USERS]
    )
    for (const { user_id } of open) cluster.telegram.injectFault({ kind: "blocked", chatId: Number(user_id) })
    events.push(`${at()} ${open.length} users blocked the bot`)

    const expected = created
    // On a timeout the report is still printed; the test fails after it.
    let unfinished = ""
    await until(`all ${expected} jobs terminal within ${DRAIN_BOUND_MS} ms`, async () => (await count(TERMINAL)) === expected,
      DRAIN_BOUND_MS - (Date.now() - start)).catch(async (error) => {
      const stuck = await cluster.query(
        `SELECT id, state, kie_task_id, attempts, outcome, updated_at FROM jobs WHERE NOT (state = ANY($1::text[])) LIMIT 30`,
        [TERMINAL]
      )
      unfinished = `${error.message}; unfinished (first 30): ${JSON.stringify(stuck)}`
      // What the runners said about those jobs (the driver reports where it is stuck).
      const ids = stuck.map((job) => String(job.id))
      const lines = cluster.runners.flatMap((runner) =>
        // One entry per log record: the message line and its indented annotations.
        runner.output().split(/\n(?=\[)/).filter((entry) => ids.some((id) => entry.includes(id)))
          .map((entry) => `${runner.name}: ${entry.replace(/\n\s+/g, " | ")}`)
      )
      unfinished += `\n[chaos] runner log records about them (last 40):\n${lines.slice(-40).join("\n")}`
    })
    const drainMs = Date.now() - start
    clearInterval(ticker)
    events.push(`${at()} all jobs terminal`)

    const result = await checkInvariants(cluster, users)
    const money = await moneyReport(cluster, users)
    const [{ attempts }] = await cluster.query<{ attempts: string }>(
      `SELECT COALESCE(SUM(attempts), 0) AS attempts FROM jobs WHERE user_id = ANY($1::bigint[])`,
      [users]
    ) as [{ attempts: string }]
    const rate = kieRateReport(cluster)
    const chaos = cluster.kie.chaosStats()
    const proxy = cluster.callbackProxy!.stats()
    const telegramFaults = cluster.telegram.calls.all().filter((call) => !call.outcome.ok)
    const faultCounts = new Map<number, number>()
    for (const call of telegramFaults) {
      const code = (call.outcome as { error_code?: number }).error_code ?? 0
      faultCounts.set(code, (faultCounts.get(code) ?? 0) + 1)
    }
    const leaks = await scanSecrets(cluster)
    const shards = await Promise.all([...alive].map(shardsOf))

    console.log([
      `[chaos] seed ${SEED}: ${expected} jobs from ${USERS} users, 3 runners, KIE limit ${KIE_LIMIT}/10 s, drain bound ${DRAIN_BOUND_MS / 1000} s`,
      `[chaos] photos ${USERS * PHOTOS}, jobs created ${created} (photos that made no job: ${photosWithoutJob})`,
      `[chaos] jobs by final state: ${JSON.stringify(result.byState)}; ${await outcomeReport(cluster, users)}`,
      `[chaos] ${unfinished === "" ? "" : `NOT DRAINED: ${unfinished}\n[chaos] `}time to drain: ${(drainMs / 1000).toFixed(1)} s from the first photo to the last terminal job`,
      `[chaos] ${formatMoney(money)}`,
      `[chaos] duplicate videos: ${result.duplicateVideos} (videos sent ${result.videos} for ${result.byState.delivered ?? 0} delivered; ` +
      `${deliveringAtKill} job(s) were delivering at the kill)`,
      `[chaos] KIE tasks ${result.kieTasks} vs submissions recorded ${attempts}: orphans ${result.orphanTasks} ` +
      `(${withoutTaskAtKill} job(s) had no recorded task at the kill); jobs without their own task: ${result.jobsWithoutOneTask.length}`,
      `[chaos] KIE request rate: createTask admitted max ${rate.maxAdmittedPerWindow} per 10 s (limit ${KIE_LIMIT}), ` +
      `createTask arrivals max ${rate.createTask.maxPerSecond}/s, all requests max ${rate.all.maxPerSecond}/s ` +
      `(${rate.all.total} requests), simulator 429s ${rate.rejected429}`,
      `[chaos] KIE faults injected: ${JSON.stringify(chaos)}; callbacks via proxy ${proxy.forwarded} forwarded, ${proxy.failed} lost at a dead runner`,
      `[chaos] Bot API faults answered: ${[...faultCounts].map(([code, n]) => `${code}×${n}`).join(", ")}; ${bursts.join("; ")}`,
      `[chaos] secrets in outputs/rows: ${leaks.length === 0 ? "none" : leaks.join(", ")}`,
      `[chaos] events: ${events.join("; ")}; live runners' shards ${JSON.stringify(shards)}`
    ].join("\n"))

    expect(unfinished, "every job terminal within the bound").toBe("")
    expect(result.jobs).toBe(expected)
    // Every photo a user sent became a job (a dropped update is a lost customer request).
    expect(photosWithoutJob).toBe(0)
    expect(Object.keys(result.byState).every((state) => TERMINAL.includes(state))).toBe(true)
    expect(result.byState.failed ?? 0).toBe(0)
    expect(money.conserved, formatMoney(money)).toBe(true)
    expect(money.duplicateCharges).toBe(0)
    expect(result.ledgerMismatches).toEqual([])
    expect(result.jobsWithoutOneTask).toEqual([])
    expect(result.kieTasks).toBe(Number(attempts) + result.orphanTasks)
    expect(result.orphanTasks).toBeLessThanOrEqual(withoutTaskAtKill)
    expect(result.duplicateVideos).toBeLessThanOrEqual(deliveringAtKill)
    expect(rate.maxAdmittedPerWindow).toBeLessThanOrEqual(KIE_LIMIT)
    // The faults did happen.
    expect(chaos.transientCreateTask + chaos.transientRecordInfo).toBeGreaterThan(0)
    expect(chaos.contentPolicy).toBeGreaterThan(0)
    expect(chaos.stuck).toBeGreaterThan(0)
    expect(proxy.forwarded).toBeGreaterThan(0)
    expect(telegramFaults.length).toBeGreaterThan(0)
    expect(leaks).toEqual([])
  }, 600_000)
})
