/**
 * Issue 20's promo test: 200 users redeem a 50-use code at the same moment, their entities
 * spread over two runner processes on one Postgres. Exactly 50 redemptions succeed, every
 * other user is told the code is used up, and every balance is its ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { messagesFor } from "../../src/i18n/index.js"
import { readyz, type Runner, type TestCluster, until, waitReady } from "../../src/sim/local-cluster.js"
import { makeCluster } from "../cluster/support.js"

const ADMIN = 9_100
const USERS = 200
const USES = 50
const FIRST = 60_001
const en = messagesFor("en")

let cluster: TestCluster
const runners: Array<Runner> = []

const answered = (userId: number, fragment: string) =>
  cluster.telegram.callsOf("sendMessage").some((call) =>
    call.outcome.ok && Number(call.params.chat_id) === userId && String(call.params.text).includes(fragment))

describe("a promo code rush on two runners", () => {
  beforeAll(async () => {
    cluster = await makeCluster({ runnerEnv: { ADMIN_IDS: String(ADMIN) } })
    for (const name of ["A", "B"]) {
      const runner = await cluster.start(name)
      await waitReady(runner)
      runners.push(runner)
    }
    await until("both runners hold shards", async () => {
      const shards = await Promise.all(runners.map(async (runner) => Number((await readyz(runner)).body.shards ?? 0)))
      return shards.every((n) => n > 0) && shards.reduce((a, b) => a + b, 0) === 300
    }, 60_000)
  }, 240_000)

  afterAll(async () => {
    await cluster?.close()
  }, 60_000)

  it("200 users redeem a 50-use code at once: exactly 50 grants, and the ledger equals the balances", async () => {
    const admin = cluster.telegram.createUser({ id: ADMIN, first_name: "Admin", language_code: "en" })
    admin.sendText(`/promo_new RUSH 2 ${USES}`)
    await until("the code exists", () => answered(ADMIN, "Created RUSH"), 30_000)

    const ids = Array.from({ length: USERS }, (_, i) => FIRST + i)
    const users = ids.map((id) => cluster.telegram.createUser({ id, first_name: `User${id}`, language_code: "en" }))
    for (const user of users) user.sendText("/promo RUSH")

    const accepted = () => ids.filter((id) => answered(id, "Promo code accepted"))
    const refused = () => ids.filter((id) => answered(id, en.promo.refused.exhausted("RUSH")))
    await until("every user answered", () => accepted().length + refused().length === USERS, 120_000)
    expect(accepted().length).toBe(USES)
    expect(refused().length).toBe(USERS - USES)

    const [code] = await cluster.query<{ uses: number }>(`SELECT uses FROM promo_codes WHERE code = 'RUSH'`)
    expect(Number(code?.uses)).toBe(USES)
    const grants = await cluster.query<{ user_id: string }>(`SELECT user_id FROM credit_ledger WHERE kind = 'promo'`)
    expect(grants.length).toBe(USES)
    expect(new Set(grants.map((row) => Number(row.user_id)))).toEqual(new Set(accepted()))
    const [redemptions] = await cluster.query<{ n: string }>(`SELECT COUNT(*) AS n FROM promo_redemptions WHERE code = 'RUSH'`)
    expect(Number(redemptions?.n)).toBe(USES)

    // Every balance is its ledger; the winners hold the free tokens plus the code's 2.
    const mismatches = await cluster.query(`
      SELECT b.user_id FROM balances b
      LEFT JOIN (SELECT user_id, SUM(delta_credits) AS c, SUM(delta_free) AS f FROM credit_ledger GROUP BY user_id) l
        ON l.user_id = b.user_id
      WHERE b.credits <> COALESCE(l.c, 0) OR b.free_tokens <> COALESCE(l.f, 0)`)
    expect(mismatches).toEqual([])
    const winners = await cluster.query<{ free_tokens: number }>(
      `SELECT free_tokens FROM balances WHERE user_id = ANY($1::bigint[])`,
      [accepted()]
    )
    expect(winners.map((row) => Number(row.free_tokens))).toEqual(accepted().map(() => 4))

    // Both runners redeemed: the claims really raced across processes.
    const redeemedOn = runners.map((runner) => runner.output().split("promo code redeemed").length - 1)
    console.log(`[promo rush] redemptions per runner: ${runners.map((r, i) => `${r.name} ${redeemedOn[i]}`).join(", ")}`)
    expect(redeemedOn.every((n) => n > 0)).toBe(true)
    expect(redeemedOn.reduce((a, b) => a + b, 0)).toBe(USES)
  }, 240_000)
})
