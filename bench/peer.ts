/**
 * The BullMQ peer against the runner on the in-flight workload (10,000 photos at once,
 * generation 120 s), polling only (the mode both systems run alike), side by side with
 * ratios, in one run. The runner is watched for 230 s, long enough to deliver its first
 * videos; the peer, which admits faster, for 150 s. The pipeline comparison is in
 * `bench:pipeline`, which runs both systems by default.
 *
 *   npm run bench:peer -- [inflight options]
 */
import { spawnSync } from "node:child_process"

const run = (script: string, args: Array<string>) => {
  const result = spawnSync(process.execPath, ["--import", "tsx", script, ...args], { stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

// The windows must outlast the 120 s generation, or no video is delivered in them.
run("bench/inflight.ts", ["--variants", "runner:polling,peer:polling", "--window", "230", "--peer-window", "150", ...process.argv.slice(2)])
