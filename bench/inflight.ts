/**
 * In-flight benchmark: 10,000 users send a photo at once to one runner (generation 120 s
 * in the KIE simulator), once with KIE callbacks and once polling only. Each variant is
 * watched for a fixed window so the whole command stays inside its 10-minute budget; the
 * table says how many jobs got in and what holding them cost. Writes
 * bench/results/inflight.json. The BullMQ peer on the same workload, side by side with the
 * runner in one run, is `npm run bench:peer` (three 10,000-job variants do not fit in 10
 * minutes: the runner needs a longer window than the peer to deliver its first videos).
 *
 *   npm run bench:inflight -- [--jobs 10000] [--gen 120] [--window 230] [--peer-window 150]
 *                             [--variants runner:callbacks,runner:polling,peer:polling]
 *                             [--runners 1]
 *
 * Both systems take updates by getUpdates long polling, the default (`--intake webhook`
 * tries the runner's webhook instead). With KIE callbacks the runner has PUBLIC_URL set;
 * polling only, it has none. `--runners 2` runs two runner processes on this machine for the
 * runner variants (the peer is three processes).
 */
import { args, list, log, type Row, sideBySide } from "./cli.js"
import { type Outcome, runScenario, type System } from "./scenario.js"
import { machine, writeResult } from "./support.js"

const options = args({
  jobs: "10000",
  gen: "120",
  window: "230",
  "peer-window": "150",
  kie: "1000",
  telegram: "30",
  variants: "runner:callbacks,runner:polling",
  intake: "polling",
  runners: "1"
})

/**
 * The q-quantile of the wait for a first message over every photo sent, a user still
 * unanswered counting as waiting past the window: none (–) until that many were answered.
 */
const firstMessageOverAll = (o: Outcome, q: number) => {
  const rank = Math.ceil(q * o.jobs) - 1
  return rank < o.firstReplyDelaysMs.length ? o.firstReplyDelaysMs[rank]! / 1000 : NaN
}

const answeredWithin = (o: Outcome, seconds: number) => o.firstReplyDelaysMs.filter((ms) => ms <= seconds * 1000).length

const rows = (kieLimitPerSecond: number, horizonSeconds: number): Array<Row> => [
  { name: "photos sent at once", value: (o) => o.jobs, digits: 0 },
  { name: "jobs admitted (credit reserved) in the window", value: (o) => o.admitted, digits: 0 },
  { name: "admission rate (jobs/s)", value: (o) => o.admittedPerSecond, digits: 1 },
  { name: "peak jobs in flight", value: (o) => o.peakInFlight, digits: 0 },
  { name: "jobs delivered in the window", value: (o) => o.delivered, digits: 0 },
  { name: "RSS before the photos (MB, all processes)", value: (o) => o.startRssMb, digits: 0 },
  { name: "peak RSS (MB, all processes)", value: (o) => o.peakRssMb, digits: 0 },
  { name: "CPU % of one core, mean", value: (o) => o.cpuPercent.mean, digits: 0 },
  { name: "CPU % of one core, p99 (1 s samples)", value: (o) => o.cpuPercent.p99, digits: 0 },
  { name: "event-loop delay p99 (ms, worst 1 s window p99)", value: (o) => o.loopDelayMs.p99, digits: 0 },
  { name: "event-loop delay p50 of 1 s p99s (ms)", value: (o) => o.loopDelayMs.p50, digits: 0 },
  { name: "KIE calls/s, mean", value: (o) => o.kieCallsPerSecond.mean, digits: 1 },
  { name: "KIE calls/s, busiest second", value: (o) => o.kieCallsPerSecond.max, digits: 0 },
  { name: `createTask in the busiest 10 s (limit ${kieLimitPerSecond * 10})`, value: (o) => o.kieCallsPerSecond.createTaskMax10s, digits: 0 },
  // Per job in flight, not per delivered job: in a window most jobs are still polling.
  { name: "KIE calls/s per 1,000 jobs in flight (peak)", value: (o) => (1000 * o.kieCallsPerSecond.mean) / Math.max(1, o.peakInFlight), digits: 1 },
  { name: "added latency KIE done → video p50 (s)", value: (o) => o.stagesMs["KIE done → video in chat"]!.p50 / 1000, digits: 2 },
  { name: "added latency KIE done → video p99 (s)", value: (o) => o.stagesMs["KIE done → video in chat"]!.p99 / 1000, digits: 2 },
  { name: "photo sent → queued p50 (s)", value: (o) => o.stagesMs["photo sent → queued"]!.p50 / 1000, digits: 1 },
  { name: "users with a message back in the window", value: (o) => o.answered, digits: 0 },
  // The same horizon for both systems, whose windows differ (the shorter one).
  { name: `users with a message back within ${horizonSeconds} s of their photo`, value: (o) => answeredWithin(o, horizonSeconds), digits: 0 },
  // Over every photo sent: – when fewer had an answer in the window.
  { name: "photo sent → first message, p25 of all photos (s)", value: (o) => firstMessageOverAll(o, 0.25), digits: 1 },
  { name: "photo sent → first message, p50 of all photos (s)", value: (o) => firstMessageOverAll(o, 0.5), digits: 1 },
  // Of the answered users only: the others had nothing back when the window closed, so this
  // grows with the window (a system watched longer answers more users, later ones).
  { name: "photo sent → first message p50 (s)", value: (o) => o.stagesMs["photo sent → first message in chat"]!.p50 / 1000, digits: 1 },
  { name: "photo sent → first message p99 (s)", value: (o) => o.stagesMs["photo sent → first message in chat"]!.p99 / 1000, digits: 1 },
  { name: "Telegram calls per admitted job", value: (o) => o.telegramCallsPerJob * o.jobs / Math.max(1, o.admitted), digits: 2 },
  { name: "Telegram 429 answers", value: (o) => o.telegram429, digits: 0 },
  { name: "Postgres commits per second", value: (o) => o.postgres.commits / (o.workload.timeoutMs / 1000), digits: 0 },
  { name: "Postgres rows written per second", value: (o) => o.postgres.rowsWritten / (o.workload.timeoutMs / 1000), digits: 0 }
]

const main = async () => {
  const jobs = Number(options.jobs)
  const kie = Number(options.kie)
  log(`inflight: ${jobs} jobs, generation ${options.gen} s, window ${options.window} s (peer ${options["peer-window"]} s); machine ${JSON.stringify(machine())}`)
  const outcomes: Array<Outcome & { variant: string }> = []
  for (const variant of list(options.variants)) {
    const [system, mode] = variant.split(":") as [System, "callbacks" | "polling"]
    log(`${variant} …`)
    const outcome = await runScenario(system, {
      label: `inflight-${mode}`,
      jobs,
      generationMs: Number(options.gen) * 1000,
      kieLimitPer10s: kie,
      telegramPerSecond: Number(options.telegram),
      callbacks: mode === "callbacks",
      intake: system === "runner" ? options.intake as "polling" | "webhook" : "polling",
      timeoutMs: Number(system === "peer" ? options["peer-window"] : options.window) * 1000,
      runners: Number(options.runners)
    }, log)
    outcomes.push({ ...outcome, variant })
  }
  const header = (o: { variant: string }) => o.variant
  for (const mode of ["polling", "callbacks"]) {
    const same = outcomes.filter((o) => o.variant.endsWith(mode))
    if (same.length === 0) continue
    const windows = same.some((o) => o.system === "peer") ? `${options.window} s window (peer ${options["peer-window"]} s)` : `${options.window} s window`
    console.log(`\n### inflight: ${jobs} photos at once, generation ${options.gen} s, KIE ${mode === "callbacks" ? "callbacks (+ the runner's safety-net polling)" : "polling only"}, ${windows}\n`)
    const horizon = Math.min(...same.map((o) => o.workload.timeoutMs / 1000))
    console.log(sideBySide(same, rows(kie / 10, horizon)))
  }
  const path = writeResult("inflight", { at: new Date().toISOString(), machine: machine(), options, outcomes, header: outcomes.map(header) })
  console.log(`\n(JSON: ${path})`)
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
