/**
 * The BullMQ peer against the runner on both workloads, in one command: the pipeline at a
 * 5 s generation and the in-flight workload polling only (the one both systems can run
 * alike), each side by side with ratios. Sized to finish inside 10 minutes; the full
 * per-benchmark commands are `bench:pipeline` and `bench:inflight`.
 *
 *   npm run bench:peer
 */
import { spawnSync } from "node:child_process"

const run = (script: string, args: Array<string>) => {
  const result = spawnSync(process.execPath, ["--import", "tsx", script, ...args], { stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

// The in-flight window must outlast the 120 s generation, or no video is delivered in it.
run("bench/pipeline.ts", ["--gen", "5", "--timeout", "75", ...process.argv.slice(2)])
run("bench/inflight.ts", ["--variants", "runner:polling,peer:polling", "--window", "150"])
