/**
 * Start-up refusals: a second runner on Postgres without REDIS_URL while another is live
 * (a second process on one SQLite DATA_DIR: test/main.test.ts), and failover settings that
 * do not hold together. Each stops with one clear line and a non-zero exit; the runner
 * already running keeps serving.
 */
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startBot } from "../../src/sim/runner-process.js"
import { makeCluster } from "./support.js"
import { readyz, type TestCluster, waitReady } from "../../src/sim/local-cluster.js"

// Independent child processes, mostly waited for: side by side.
describe("runners that would break the limits are refused at start-up", { concurrent: true }, () => {
  let cluster: TestCluster

  beforeAll(async () => {
    cluster = await makeCluster()
  }, 60_000)

  afterAll(async () => {
    await cluster?.close()
  }, 60_000)

  it("a second runner on Postgres without REDIS_URL is refused while another runner is live", async () => {
    // The first runner alone may run without Redis (in-process limits).
    const first = await cluster.start("solo", { REDIS_URL: "" })
    await waitReady(first)
    const second = await cluster.start("second", { REDIS_URL: "" })
    const code = await second.exited
    expect(code, second.output()).not.toBe(0)
    const lines = second.output().trim().split("\n").filter((line) => line.includes("ClusterRefused"))
    expect(lines, second.output()).toHaveLength(1)
    expect(lines[0]).toContain(`Another runner is live on this database (127.0.0.1:${first.runnerPort}) and REDIS_URL is not set`)
    // The refused runner never registered, so the first one still holds every shard.
    const { status, body } = await readyz(first)
    expect(status).toBe(200)
    expect(body).toMatchObject({ ready: true, shards: 300 })
  }, 180_000)

  it("failover settings are checked like the other variables", async () => {
    // Both at once: each process takes a while to load.
    const bot = startBot({ SHARD_LOCK_REFRESH: "5s", SHARD_LOCK_EXPIRATION: "6s", DATA_DIR: join(tmpdir(), "bot-never-created") })
    const bad = startBot({ RUNNER_HEALTH_CHECK_INTERVAL: "soon", DATA_DIR: join(tmpdir(), "bot-never-created") })
    const [code, badCode] = await Promise.all([bot.exited, bad.exited])
    expect(code).not.toBe(0)
    const lines = bot.output().trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/SHARD_LOCK_EXPIRATION must be at least twice SHARD_LOCK_REFRESH/)
    expect(badCode).not.toBe(0)
    expect(bad.output().trim().split("\n")).toHaveLength(1)
    expect(bad.output()).toMatch(/ERROR .*: Invalid configuration: RUNNER_HEALTH_CHECK_INTERVAL must be a duration/)
  }, 180_000)
})
