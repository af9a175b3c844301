/**
 * The runner port against an outsider: a real runner (`src/main.ts`, cluster mode on a fresh
 * Postgres) and a client that speaks the cluster's RPC to RUNNER_PORT (test/support/
 * runner-probe.ts). A forged Grant, Adjust and HandleInbox (the wake-up of an admin's
 * entity), over plain TCP and over TLS with a wrong secret, are refused and change nothing;
 * the same forgeries with the right secret reach the entities, which shows the probe is
 * real. A wake carries no update (the entity reads its updates from the inbox table), so
 * even the insider's forged wake makes the admin's entity do nothing. Then: a runner with a different
 * secret is refused at start-up, and a second runner with the right one shares the work.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { forgeRequest, type ProbeOutcome, type ProbeTransport } from "../support/runner-probe.js"
import { makeCluster, scanSecrets } from "../cluster/support.js"
import { type Runner, shardsOf, type TestCluster, until, waitReady } from "../../src/sim/local-cluster.js"

const ADMIN = 7_100_001
/** An existing user, the target of the forged admin's /grant. */
const VICTIM = 7_100_002
const GRANTEE = 7_100_003
const ADJUSTED = 7_100_004
const SUBJECTS = [ADMIN, VICTIM, GRANTEE, ADJUSTED]

type Attempt = "plain" | "wrong" | "right"

/** The three forgeries of the issue, with ids of their own per attempt. */
const forgeries = (attempt: Attempt) => [
  { entityId: String(GRANTEE), tag: "Grant", payload: { paymentId: `forged-${attempt}`, credits: 1000 } },
  {
    entityId: String(ADJUSTED),
    tag: "Adjust",
    payload: { adjustmentId: `forged-${attempt}`, adminId: ADMIN, delta: 1000, note: "forged" }
  },
  // Any entity message of the intake: a wake-up is all there is, and it carries nothing.
  { entityId: String(ADMIN), tag: "HandleInbox", payload: undefined }
]

const forgeAll = (runner: Runner, transport: ProbeTransport, attempt: Attempt) =>
  Effect.runPromise(Effect.forEach(
    forgeries(attempt),
    (forgery) => forgeRequest({ port: runner.runnerPort, transport, entityType: "User", ...forgery }),
    { concurrency: "unbounded" }
  ))

const metric = async (runner: Runner, pattern: RegExp) => {
  const text = await (await fetch(`http://127.0.0.1:${runner.httpPort}/metrics`)).text()
  const match = pattern.exec(text)
  return match === null ? undefined : Number(match[1])
}
const activeUserEntities = (runner: Runner) => metric(runner, /^effect_cluster_entities\{[^}]*type="User"[^}]*\} (\S+)$/m)

const isSuccess = (outcome: ProbeOutcome) =>
  outcome._tag === "Replied" && (outcome.exit as { readonly _tag?: string } | undefined)?._tag === "Success"

describe("RUNNER_PORT", () => {
  let cluster: TestCluster
  let runner: Runner

  beforeAll(async () => {
    cluster = await makeCluster({ runnerEnv: { ADMIN_IDS: String(ADMIN) } })
    runner = await cluster.start("R1")
    await waitReady(runner)
  }, 120_000)

  afterAll(async () => {
    await cluster?.close()
  }, 60_000)

  it("refuses forged Grant, Adjust and HandleInbox without the cluster secret or with a wrong one", async () => {
    await cluster.query(`INSERT INTO users (id, first_name) VALUES ($1, 'Victim')`, [VICTIM])
    cluster.telegram.createUser({ id: ADMIN, first_name: "Mallory", language_code: "en" })
    const moneyRows = () =>
      cluster.query<{ user_id: string; kind: string; delta_credits: number }>(
        `SELECT user_id, kind, delta_credits FROM credit_ledger WHERE user_id = ANY($1::bigint[]) ORDER BY user_id`,
        [SUBJECTS]
      )

    const outsiders = [
      await forgeAll(runner, { _tag: "plain" }, "plain"),
      await forgeAll(runner, { _tag: "psk", secret: "a-wrong-secret-that-is-long-enough-to-pass" }, "wrong")
    ]
    for (const outcomes of outsiders) {
      expect(outcomes.map((outcome) => outcome._tag)).toEqual(["Refused", "Refused", "Refused"])
    }
    expect(await moneyRows()).toEqual([])
    expect(await cluster.query(`SELECT id FROM users WHERE id = ANY($1::bigint[])`, [[ADMIN, GRANTEE, ADJUSTED]])).toEqual([])
    // The gauge is refreshed every second: wait for a refresh after the last attempt.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(await activeUserEntities(runner)).toBe(0)
    expect(await metric(runner, /^runner_connections_refused_total(?:\{[^}]*\})? (\S+)$/m)).toBeGreaterThanOrEqual(6)
    expect(runner.output()).toContain("refused a connection that failed the TLS handshake")
    expect(cluster.telegram.callsOf("sendMessage").filter((call) => Number(call.params.chat_id) === ADMIN)).toEqual([])

    // The same forgeries with the cluster's secret go through: the probe is real.
    const insider = await forgeAll(runner, { _tag: "psk", secret: cluster.secrets.CLUSTER_SECRET }, "right")
    expect(insider.map(isSuccess), JSON.stringify(insider)).toEqual([true, true, true])
    const credits = await moneyRows()
    expect(credits.map((row) => [Number(row.user_id), row.kind, row.delta_credits])).toEqual([
      [GRANTEE, "grant", 1000],
      [ADJUSTED, "adjust", 1000]
    ])
    // The wake found an empty inbox: the admin's entity ran no handler and sent nothing.
    expect(await cluster.query(`SELECT id FROM users WHERE id = $1`, [ADMIN])).toEqual([])
    expect(cluster.telegram.callsOf("sendMessage").filter((call) => Number(call.params.chat_id) === ADMIN)).toEqual([])
    expect(await scanSecrets(cluster)).toEqual([])
  }, 60_000)

  it("stops a runner with a different secret at start-up; a second runner with the right one shares the work", async () => {
    const stranger = await cluster.start("stranger", { CLUSTER_SECRET: "a-different-secret-that-is-32-chars-long" })
    const exit = await Promise.race([stranger.exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 45_000))])
    expect(exit, stranger.output()).toBe(1)
    const refusal = stranger.output().split("\n").filter((line) => line.includes("ClusterRefused"))
    expect(refusal, stranger.output()).toHaveLength(1)
    expect(refusal[0]).toContain(`CLUSTER_SECRET differs from the live runners' (127.0.0.1:${runner.runnerPort} refused`)
    expect(await shardsOf(runner)).toBe(300)
    const quietFrom = runner.output().length

    const second = await cluster.start("R2")
    await waitReady(second)
    await until("the runners share the shards", async () => (await shardsOf(runner)) + (await shardsOf(second)) === 300, 30_000)
    expect(await shardsOf(second)).toBeGreaterThan(0)
    // Ten users' /start, handed by the polling runner to their entities.
    const users = Array.from({ length: 10 }, (_, i) => cluster.telegram.createUser({ id: 7_200_000 + i, first_name: "Ann" }))
    for (const user of users) user.sendText("/start")
    const answered = (id: number) => cluster.telegram.chatHistory(id).some((message) => message.sender === "bot")
    // Users' entities live on both runners, so updates crossed between them (the poller is on
    // one). Sampled while the answers come: an idle user entity is passivated after seconds.
    const hosted = [0, 0]
    const sample = async () => {
      hosted[0] = Math.max(hosted[0]!, (await activeUserEntities(runner)) ?? 0)
      hosted[1] = Math.max(hosted[1]!, (await activeUserEntities(second)) ?? 0)
    }
    await until("every user is answered", async () => {
      await sample()
      return users.every((user) => answered(user.id))
    }, 30_000)
    await until("both runners hosted user entities", async () => {
      await sample()
      return hosted.every((count) => count > 0)
    }, 10_000)
    expect(runner.output().slice(quietFrom) + second.output()).not.toContain("refused a connection")
  }, 120_000)
})
