/**
 * The runner port against an outsider: a real runner (`src/main.ts`, cluster mode on a fresh
 * Postgres) and a client that speaks the cluster's RPC to RUNNER_PORT (test/support/
 * runner-probe.ts). A forged Grant, Adjust and admin HandleUpdate, over plain TCP and over
 * TLS with a wrong secret, are refused and change nothing; the same forgeries with the
 * right secret are applied, which shows the probe is real.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { forgeRequest, type ProbeOutcome, type ProbeTransport } from "../support/runner-probe.js"
import { makeCluster, type Runner, scanSecrets, waitReady } from "../cluster/support.js"

const ADMIN = 7_100_001
/** An existing user, the target of the forged admin's /grant. */
const VICTIM = 7_100_002
const GRANTEE = 7_100_003
const ADJUSTED = 7_100_004
const SUBJECTS = [ADMIN, VICTIM, GRANTEE, ADJUSTED]

const UPDATE_IDS = { plain: 900_001, wrong: 900_002, right: 900_003 } as const
type Attempt = keyof typeof UPDATE_IDS

/** The three forgeries of the issue, with ids of their own per attempt. */
const forgeries = (attempt: Attempt) => [
  { entityId: String(GRANTEE), tag: "Grant", payload: { paymentId: `forged-${attempt}`, credits: 1000 } },
  {
    entityId: String(ADJUSTED),
    tag: "Adjust",
    payload: { adjustmentId: `forged-${attempt}`, adminId: ADMIN, delta: 1000, note: "forged" }
  },
  {
    entityId: String(ADMIN),
    tag: "HandleUpdate",
    payload: {
      update: {
        update_id: UPDATE_IDS[attempt],
        message: {
          message_id: 1,
          date: Math.floor(Date.now() / 1000),
          chat: { id: ADMIN, type: "private", first_name: "Mallory" },
          from: { id: ADMIN, is_bot: false, first_name: "Mallory" },
          text: `/grant ${VICTIM} 1000 forged`,
          entities: [{ type: "bot_command", offset: 0, length: 6 }]
        }
      }
    }
  }
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
  it("refuses forged Grant, Adjust and admin HandleUpdate without the cluster secret or with a wrong one", async () => {
    const cluster = await makeCluster({ runnerEnv: { ADMIN_IDS: String(ADMIN) } })
    try {
      const runner = await cluster.start("R1")
      await waitReady(runner)
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
      // (The forged admin's update also registered the admin, with free tokens only.)
      const credits = (await moneyRows()).filter((row) => row.kind !== "free_grant")
      expect(credits.map((row) => [Number(row.user_id), row.kind, row.delta_credits])).toEqual([
        [VICTIM, "adjust", 1000],
        [GRANTEE, "grant", 1000],
        [ADJUSTED, "adjust", 1000]
      ])
      expect(await scanSecrets(cluster)).toEqual([])
    } finally {
      await cluster.close()
    }
  }, 180_000)
})
