/**
 * Pipeline benchmark: N jobs through one runner (Postgres + Redis, both simulators on
 * loopback), at two generation times, and the BullMQ peer on the same workloads in the
 * same run. Prints one table per generation time and writes bench/results/pipeline.json.
 *
 *   npm run bench:pipeline -- [--jobs 2000] [--gen 0,5] [--systems runner,peer] [--timeout 95] [--runners 1]
 *
 * Each system gets `--timeout` seconds per generation time (95 s keeps the four runs inside
 * the 10-minute budget); jobs not delivered by then are counted as unfinished, and the
 * rates are over what was delivered. `--timeout 1200` lets all 2,000 finish.
 *
 * KIE's createTask limit is set to 1000 per 10 s (the highest KIE_RATE_LIMIT accepts; KIE's
 * documented default is 20 per 10 s, which alone would make 2,000 jobs take 17 minutes),
 * and Telegram's flood limit to its documented 30 messages/s: see BENCHMARKS.md.
 */
import { args, list, log, type Row, sideBySide } from "./cli.js"
import { type Outcome, runScenario, type System } from "./scenario.js"
import { machine, writeResult } from "./support.js"

const options = args({ jobs: "2000", gen: "0,5", systems: "runner,peer", timeout: "95", kie: "1000", telegram: "30", intake: "polling", runners: "1" })
const jobs = Number(options.jobs)

/** Calls that count against Telegram's flood limit: sends and edits (per job of the workload). */
const messages = (o: Outcome) =>
  ["sendMessage", "editMessageText", "editMessageCaption", "editMessageReplyMarkup", "sendVideo", "sendPhoto", "sendDocument"]
    .reduce((sum, method) => sum + (o.telegramCallsByMethod[method] ?? 0), 0)

const rows: Array<Row> = [
  { name: "jobs delivered", value: (o) => o.delivered, digits: 0 },
  { name: "jobs refunded", value: (o) => o.refunded, digits: 0 },
  { name: "jobs unfinished when the time ran out", value: (o) => o.unfinished, digits: 0 },
  { name: "users with no message yet when the time ran out", value: (o) => o.jobs - o.answered, digits: 0 },
  { name: "wall time, first photo → last video (s)", value: (o) => o.wallSeconds },
  { name: "jobs/s completed", value: (o) => o.jobsPerSecond, digits: 2 },
  ...[
    "photo sent → queued",
    "queued → submitted",
    "submitted → KIE success",
    "KIE success → video in chat",
    "photo sent → video in chat",
    "photo sent → first message in chat"
  ]
    .flatMap((stage): Array<Row> => [
      { name: `${stage} p50 (s)`, value: (o) => o.stagesMs[stage]!.p50 / 1000, digits: 2 },
      { name: `${stage} p99 (s)`, value: (o) => o.stagesMs[stage]!.p99 / 1000, digits: 2 }
    ]),
  { name: "KIE calls per delivered job", value: (o) => o.kieCallsPerJob * o.jobs / Math.max(1, o.delivered), digits: 2 },
  { name: "Telegram calls per delivered job (not getUpdates)", value: (o) => o.telegramCallsPerJob * o.jobs / Math.max(1, o.delivered), digits: 2 },
  { name: "  of which messages (flood-limited)", value: (o) => messages(o) * o.jobs / Math.max(1, o.delivered), digits: 2 },
  { name: "Telegram 429 answers", value: (o) => o.telegram429, digits: 0 },
  { name: "CPU seconds per delivered job", value: (o) => o.cpuSeconds / Math.max(1, o.delivered), digits: 3 },
  { name: "CPU % of one core, mean", value: (o) => o.cpuPercent.mean, digits: 0 },
  { name: "peak RSS (MB, all processes)", value: (o) => o.peakRssMb, digits: 0 },
  { name: "event-loop delay p99 (ms)", value: (o) => o.loopDelayMs.p99, digits: 0 },
  { name: "Postgres commits per delivered job", value: (o) => o.postgres.commits / Math.max(1, o.delivered), digits: 1 },
  { name: "Postgres rows written per delivered job", value: (o) => o.postgres.rowsWritten / Math.max(1, o.delivered), digits: 1 },
  { name: "ledger ≠ balance (users)", value: (o) => o.ledgerMismatches, digits: 0 }
]

const main = async () => {
  log(`pipeline: ${jobs} jobs, generation ${options.gen} s, systems ${options.systems}; machine ${JSON.stringify(machine())}`)
  const results: Array<{ generationSeconds: number; outcomes: Array<Outcome> }> = []
  for (const gen of list(options.gen).map(Number)) {
    const outcomes: Array<Outcome> = []
    for (const system of list(options.systems) as Array<System>) {
      log(`${system}, generation ${gen} s …`)
      outcomes.push(await runScenario(system, {
        label: `pipeline-${gen}`,
        jobs,
        generationMs: gen * 1000,
        kieLimitPer10s: Number(options.kie),
        telegramPerSecond: Number(options.telegram),
        callbacks: false,
        intake: options.intake as "polling" | "webhook",
        timeoutMs: Number(options.timeout) * 1000,
        runners: Number(options.runners)
      }, log))
    }
    results.push({ generationSeconds: gen, outcomes })
    console.log(`\n### pipeline: ${jobs} jobs, generation ${gen} s, polling (no PUBLIC_URL)\n`)
    console.log(sideBySide(outcomes, rows))
  }
  const path = writeResult("pipeline", { at: new Date().toISOString(), machine: machine(), options, results })
  console.log(`\n(JSON: ${path})`)
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
