/**
 * One measured run of a workload against one system: the product's runner
 * (`src/main.ts`, one process) or the BullMQ peer (bench/peer). Both get the same fresh
 * database, the same simulators and the same users sending photos; both are measured from
 * outside (CPU and RSS from /proc) and by what reached the simulators, so the figures
 * compare like with like.
 */
import { startPeer } from "./peer/launch.js"
import {
  clearLimiters,
  freshDatabase,
  mean,
  percentile,
  type Runner,
  Sampler,
  scrapeGauge,
  sendPhotos,
  sleep,
  startRunner,
  startSimulators,
  waitFor
} from "./support.js"

export type System = "runner" | "peer"

export interface Workload {
  readonly label: string
  readonly jobs: number
  readonly generationMs: number
  /** KIE's createTask limit per 10 s, enforced by the simulator and configured in both systems. */
  readonly kieLimitPer10s: number
  /** Telegram's flood limit across all chats, enforced by the simulator (messages per second). */
  readonly telegramPerSecond: number
  readonly callbacks: boolean
  /**
   * How updates reach the runner: getUpdates long polling (the default, one poller hands
   * updates over one at a time) or Telegram's webhook (the simulator pushes up to 40 at once,
   * as Telegram does). Webhook mode needs PUBLIC_URL, which also turns KIE callbacks on; a
   * polling-only KIE run then has the simulator lose every callback.
   */
  readonly intake?: "polling" | "webhook"
  /** Gives up waiting for the jobs after this long (the figures then say how many finished). */
  readonly timeoutMs: number
  /** Extra environment of the runner (e.g. the watchdog's settings). */
  readonly runnerEnv?: Record<string, string>
  /**
   * Runner processes sharing the work on this machine, one database (default 1). The peer is
   * three processes; two runners use both cores as the product scales on any host: shards
   * spread over the runners, one of them polls Telegram and hands each update to its user's.
   */
  readonly runners?: number
}

export interface StageTimes {
  readonly userId: number
  readonly sentAt: number
  readonly queuedAt: number | undefined
  readonly submittedAt: number | undefined
  readonly kieSucceededAt: number | undefined
  /** When KIE (the simulator) finished the task, whether or not anyone knew yet. */
  readonly kieDoneAt: number | undefined
  readonly videoAt: number | undefined
  /** The first message or video the user got after the photo (an acknowledgement, or the outcome itself). */
  readonly firstReplyAt: number | undefined
}

export interface Outcome {
  readonly system: System
  readonly workload: Workload
  readonly jobs: number
  /** Jobs that got a row (credit reserved) before the end. */
  readonly admitted: number
  readonly admittedPerSecond: number
  readonly delivered: number
  /** Users who had any message or video back before the end. */
  readonly answered: number
  /**
   * How long each user who had an answer waited for it (photo sent → first message), in
   * ms, ascending. With `jobs` this gives figures over every photo sent, not only over those
   * answered: a median over the answered ones depends on the window more than on the system.
   */
  readonly firstReplyDelaysMs: ReadonlyArray<number>
  readonly refunded: number
  readonly unfinished: number
  readonly wallSeconds: number
  readonly jobsPerSecond: number
  readonly stagesMs: Record<string, { p50: number; p99: number }>
  readonly kieCallsPerJob: number
  readonly kieCallsByRoute: Record<string, number>
  readonly telegramCallsPerJob: number
  readonly telegramCallsByMethod: Record<string, number>
  readonly cpuSecondsPerJob: number
  readonly cpuSeconds: number
  readonly peakRssMb: number
  /** RSS just before the photos were sent: the idle system. */
  readonly startRssMb: number
  readonly cpuPercent: { mean: number; p99: number; max: number }
  readonly loopDelayMs: { p50: number; p99: number; max: number }
  /** Each second's event-loop p99 (ms), at its time since the photos were sent (s): to line up with a GC trace. */
  readonly loopDelaySeries: ReadonlyArray<readonly [number, number]>
  readonly peakInFlight: number
  readonly kieCallsPerSecond: { mean: number; max: number; createTaskMax10s: number }
  readonly telegram429: number
  readonly ledgerMismatches: number
  /** Postgres work of the run in this database (pg_stat_database): commits and rows written. */
  readonly postgres: { readonly commits: number; readonly rowsWritten: number }
  readonly processes: number
}

interface JobTimes {
  user_id: string
  state: string
  created_at_ms: string | null
  kie_succeeded_at_ms: string | null
  kie_task_id: string | null
  submitted_ms: string | null
}

/** Cumulative commits and rows written in the run's own database (every client, the harness's reads included). */
const pgStats = async (db: { query: <T extends object>(text: string) => Promise<Array<T>> }) => {
  const row = (await db.query<{ commits: string; written: string }>(
    `SELECT xact_commit AS commits, tup_inserted + tup_updated + tup_deleted AS written
       FROM pg_stat_database WHERE datname = current_database()`
  ))[0]
  return { commits: Number(row?.commits ?? 0), rowsWritten: Number(row?.written ?? 0) }
}

const stage = (values: ReadonlyArray<number>) => ({ p50: percentile(values, 50), p99: percentile(values, 99) })

/** KIE requests per second from cumulative samples: the mean and the busiest second over `from..to`. */
const ratePerSecond = (totals: ReadonlyArray<{ at: number; total: number }>, from: number, to: number) => {
  const inside = totals.filter((s) => s.at >= from && s.at <= to)
  if (inside.length < 2) return { mean: NaN, max: NaN }
  let max = 0
  for (let i = 1; i < inside.length; i++) {
    max = Math.max(max, (inside[i]!.total - inside[i - 1]!.total) / ((inside[i]!.at - inside[i - 1]!.at) / 1000))
  }
  const first = inside[0]!
  const last = inside[inside.length - 1]!
  return { mean: (last.total - first.total) / ((last.at - first.at) / 1000), max }
}

export const runScenario = async (system: System, workload: Workload, log: (line: string) => void): Promise<Outcome> => {
  await clearLimiters()
  const db = await freshDatabase(system)
  const sims = await startSimulators(workload.generationMs, workload.kieLimitPer10s, workload.telegramPerSecond)
  const kieLimitEnv = String(workload.kieLimitPer10s)
  if (system === "runner" && workload.intake === "webhook" && !workload.callbacks) sims.kie.setFaults({ callbacks: "lose" })
  // KIE requests answered so far, sampled each second, for the request-rate figures.
  const kieTotals: Array<{ at: number; total: number }> = []
  const kieTap = setInterval(() => {
    kieTotals.push({ at: Date.now(), total: [...sims.kie.requestCounts().values()].reduce((a, b) => a + b, 0) })
  }, 1_000)
  const runners: Array<Runner> = []
  let peer: Awaited<ReturnType<typeof startPeer>> | undefined
  try {
    let pids: () => ReadonlyArray<number>
    let loopDelay: () => Promise<number | undefined>
    if (system === "runner") {
      // One after the other: each is ready (it holds its shards) before the next starts.
      for (let i = 0; i < (workload.runners ?? 1); i++) {
        runners.push(
          await startRunner(sims, db.url, (httpPort) => ({
            KIE_RATE_LIMIT: kieLimitEnv,
            // One photo per user: the per-user limits never bind; the free tokens pay.
            FREE_TOKENS: "2",
            MAX_JOBS_IN_FLIGHT: "2",
            FLOOD_LIMIT_PER_MINUTE: "1000",
            // With PUBLIC_URL the runner gives KIE a callback URL; without it, it only polls.
            ...(workload.callbacks || workload.intake === "webhook" ? { PUBLIC_URL: `http://127.0.0.1:${httpPort}` } : {}),
            ...(workload.intake === "webhook" ? { TELEGRAM_MODE: "webhook", TELEGRAM_WEBHOOK_SECRET: "bench-webhook-secret" } : {}),
            ...workload.runnerEnv
          }))
        )
      }
      pids = () => runners.map((r) => r.pid)
      // The worst runner's, as the peer reports its worst process's.
      loopDelay = async () => {
        const seconds = (await Promise.all(runners.map((r) => scrapeGauge(r, "nodejs_eventloop_lag_p99_seconds"))))
          .filter((value): value is number => value !== undefined)
        return seconds.length === 0 ? undefined : Math.max(...seconds) * 1000
      }
    } else {
      peer = await startPeer({
        sims,
        databaseUrl: db.url,
        kieLimitPer10s: workload.kieLimitPer10s,
        telegramPerSecond: workload.telegramPerSecond,
        callbacks: workload.callbacks,
        freeTokens: 2
      })
      const p = peer
      pids = () => p.pids()
      loopDelay = async () => p.loopDelayP99Ms()
    }
    const pgBefore = await pgStats(db)
    const sampler = new Sampler(pids, loopDelay, 1_000)
    sampler.start()
    await sleep(1_500)

    const firstId = 1_000_000
    const started = Date.now()
    const sentAt = sendPhotos(sims, firstId, workload.jobs, workload.label)
    log(`${system}: ${workload.jobs} photos sent in ${Date.now() - started} ms`)

    const countTable = system === "runner" ? "jobs" : "peer_jobs"
    let peakInFlight = 0
    let lastLog = 0
    const done = await waitFor(async () => {
      const rows = await db.query<{ state: string; n: string }>(`SELECT state, COUNT(*) AS n FROM ${countTable} GROUP BY state`)
      const byState = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]))
      const terminal = (byState.delivered ?? 0) + (byState.refunded ?? 0) + (byState.failed ?? 0)
      const total = Object.values(byState).reduce((a, b) => a + b, 0)
      peakInFlight = Math.max(peakInFlight, total - terminal)
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now()
        log(`${system} +${Math.round((Date.now() - started) / 1000)}s: ${JSON.stringify(byState)}`)
      }
      return terminal >= workload.jobs
    }, workload.timeoutMs, 1_000)
    const finished = Date.now()
    await sleep(1_500)
    const pgAfter = await pgStats(db)
    sampler.stop()
    if (!done) log(`${system}: timed out after ${workload.timeoutMs} ms`)

    const rows = system === "runner"
      ? await db.query<JobTimes>(
        `SELECT j.user_id, j.state, j.created_at_ms, j.kie_succeeded_at_ms, j.kie_task_id,
                (SELECT MIN(EXTRACT(EPOCH FROM e.at) * 1000) FROM job_events e WHERE e.job_id = j.id AND e.to_state = 'polling') AS submitted_ms
           FROM jobs j`
      )
      : await db.query<JobTimes>(
        `SELECT user_id, state, created_at_ms, kie_succeeded_at_ms, kie_task_id, submitted_at_ms AS submitted_ms FROM peer_jobs`
      )
    const videoAt = new Map<number, number>()
    for (const call of sims.telegram.callsOf("sendVideo")) {
      if (!call.outcome.ok) continue
      const chat = Number(call.params.chat_id)
      if (!videoAt.has(chat)) videoAt.set(chat, call.at)
    }
    const firstReplyAt = new Map<number, number>()
    for (const call of sims.telegram.calls.all()) {
      if (!call.outcome.ok || (call.method !== "sendMessage" && call.method !== "sendVideo")) continue
      const chat = Number(call.params.chat_id)
      if (!firstReplyAt.has(chat)) firstReplyAt.set(chat, call.at)
    }
    const times: Array<StageTimes> = rows.map((row) => ({
      userId: Number(row.user_id),
      sentAt: sentAt.get(Number(row.user_id)) ?? NaN,
      queuedAt: row.created_at_ms === null ? undefined : Number(row.created_at_ms),
      submittedAt: row.submitted_ms === null ? undefined : Number(row.submitted_ms),
      kieSucceededAt: row.kie_succeeded_at_ms === null ? undefined : Number(row.kie_succeeded_at_ms),
      kieDoneAt: row.kie_task_id === null ? undefined : sims.kie.task(row.kie_task_id)?.completedAt,
      videoAt: videoAt.get(Number(row.user_id)),
      firstReplyAt: firstReplyAt.get(Number(row.user_id))
    }))
    const diff = (pick: (t: StageTimes) => [number | undefined, number | undefined]) =>
      times.flatMap((t) => {
        const [a, b] = pick(t)
        return a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) ? [] : [b - a]
      })
    const stagesMs = {
      "photo sent → queued": stage(diff((t) => [t.sentAt, t.queuedAt])),
      "queued → submitted": stage(diff((t) => [t.queuedAt, t.submittedAt])),
      "submitted → KIE success": stage(diff((t) => [t.submittedAt, t.kieSucceededAt])),
      "KIE success → video in chat": stage(diff((t) => [t.kieSucceededAt, t.videoAt])),
      "KIE done → video in chat": stage(diff((t) => [t.kieDoneAt, t.videoAt])),
      "photo sent → video in chat": stage(diff((t) => [t.sentAt, t.videoAt])),
      "photo sent → first message in chat": stage(diff((t) => [t.sentAt, t.firstReplyAt]))
    }
    // A video in the chat counts, even if the job row had not yet moved to delivered when the window closed.
    const delivered = times.filter((t) => t.videoAt !== undefined).length
    const refunded = rows.filter((r) => r.state === "refunded").length
    const lastVideo = Math.max(started, ...videoAt.values())
    const wallSeconds = (lastVideo - started) / 1000

    const kieCalls = sims.kie.requestCounts()
    const kieCallsByRoute = Object.fromEntries([...kieCalls.entries()].map(([route, n]) => [route, n / workload.jobs]))
    const kieTotal = [...kieCalls.values()].reduce((a, b) => a + b, 0)
    const telegramCallsByMethod: Record<string, number> = {}
    let telegram429 = 0
    for (const call of sims.telegram.calls.all()) {
      if (call.method === "getUpdates") continue
      telegramCallsByMethod[call.method] = (telegramCallsByMethod[call.method] ?? 0) + 1
      if (!call.outcome.ok && call.outcome.error_code === 429) telegram429++
    }
    const telegramTotal = Object.values(telegramCallsByMethod).reduce((a, b) => a + b, 0)
    for (const method of Object.keys(telegramCallsByMethod)) telegramCallsByMethod[method]! /= workload.jobs
    const cpuSeconds = sampler.cpuSecondsBetween(started - 1_000, finished + 2_000)
    const cpu = sampler.cpuPercents(started, finished)
    const loop = sampler.loopDelays(started, finished)
    const kieRate = ratePerSecond(kieTotals, started, finished)
    const creates = sims.kie.createAttempts().filter((a) => a.status === 200).map((a) => a.at)
    let createTaskMax10s = 0
    for (let i = 0, j = 0; i < creates.length; i++) {
      while (creates[j]! < creates[i]! - 10_000) j++
      createTaskMax10s = Math.max(createTaskMax10s, i - j + 1)
    }
    const ledgerMismatches = system === "runner"
      ? Number((await db.query<{ n: string }>(
        `SELECT COUNT(*) AS n FROM (SELECT l.user_id FROM credit_ledger l JOIN balances b ON b.user_id = l.user_id
          GROUP BY l.user_id HAVING SUM(l.delta_credits) <> MAX(b.credits) OR SUM(l.delta_free) <> MAX(b.free_tokens)) x`
      ))[0]?.n ?? 0)
      : Number((await db.query<{ n: string }>(
        `SELECT COUNT(*) AS n FROM (SELECT l.user_id FROM peer_ledger l JOIN peer_balances b ON b.user_id = l.user_id
          GROUP BY l.user_id HAVING SUM(l.delta) <> MAX(b.balance)) x`
      ))[0]?.n ?? 0)
    return {
      system,
      workload,
      jobs: workload.jobs,
      admitted: rows.length,
      admittedPerSecond: rows.length / Math.max(0.001, (Math.max(started, ...times.map((t) => t.queuedAt ?? 0)) - started) / 1000),
      delivered,
      answered: times.filter((t) => t.firstReplyAt !== undefined).length,
      firstReplyDelaysMs: diff((t) => [t.sentAt, t.firstReplyAt]).sort((a, b) => a - b),
      refunded,
      unfinished: workload.jobs - delivered - refunded,
      wallSeconds,
      jobsPerSecond: delivered / Math.max(wallSeconds, 0.001),
      stagesMs,
      kieCallsPerJob: kieTotal / workload.jobs,
      kieCallsByRoute,
      telegramCallsPerJob: telegramTotal / workload.jobs,
      telegramCallsByMethod,
      cpuSeconds,
      cpuSecondsPerJob: cpuSeconds / workload.jobs,
      peakRssMb: sampler.peakRssBytes() / 2 ** 20,
      startRssMb: (sampler.samples.find((sample) => sample.at <= started)?.rssBytes ?? NaN) / 2 ** 20,
      cpuPercent: { mean: mean(cpu), p99: percentile(cpu, 99), max: Math.max(0, ...cpu) },
      loopDelayMs: { p50: percentile(loop, 50), p99: percentile(loop, 99), max: Math.max(0, ...loop) },
      loopDelaySeries: sampler.samples.flatMap((sample) =>
        sample.loopDelayP99Ms === undefined ? [] : [[Math.round((sample.at - started) / 100) / 10, Math.round(sample.loopDelayP99Ms)] as const]
      ),
      peakInFlight,
      kieCallsPerSecond: { ...kieRate, createTaskMax10s },
      telegram429,
      ledgerMismatches,
      postgres: { commits: pgAfter.commits - pgBefore.commits, rowsWritten: pgAfter.rowsWritten - pgBefore.rowsWritten },
      processes: pids().length
    }
  } catch (error) {
    for (const runner of runners) log(`runner output:\n${runner.tail().slice(-3000)}`)
    if (peer !== undefined) log(`peer output:\n${peer.tail().slice(-3000)}`)
    throw error
  } finally {
    await Promise.all(runners.map((runner) => runner.kill("SIGTERM")))
    await peer?.stop()
    clearInterval(kieTap)
    await sims.close()
    await db.drop()
  }
}
