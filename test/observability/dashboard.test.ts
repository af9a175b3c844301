/**
 * The operators' dashboard over a seeded SQLite database, with the cluster's runner tables
 * written by the cluster's own storage, a real KIE breaker tripped by an operator error,
 * and the real rate limits: sign-in without the token in any address, the live state, the
 * window choice and refresh without a reload, in headless Chromium (screenshot in docs/).
 */
import { Runner, RunnerAddress, RunnerStorage, ShardId, ShardingConfig, SqlRunnerStorage } from "@effect/cluster"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted, Schedule, TestClock } from "effect"
import { createServer } from "node:http"
import { join } from "node:path"
import { chromium } from "playwright-core"
import { KieOperatorError } from "../../src/errors/kie-errors.js"
import { liveState } from "../../src/observability/dashboard-data.js"
import { DashboardRoutes } from "../../src/http/dashboard.js"
import { AppRouter } from "../../src/http/router.js"
import { KieCircuitBreaker, makeCircuitBreaker } from "../../src/kie/circuit-breaker.js"
import { KieClient } from "../../src/kie/kie-client.js"
import { OperatorAlerts } from "../../src/alerts/operator-alerts.js"
import { RateLimits } from "../../src/rate-limits/rate-limits.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { configLayer, freshSettings } from "../support/database.js"
import { seededRandom } from "../support/runner.js"
import { DAY1, DAY2, seed, seedHistory } from "./seed.js"

const TOKEN = "dashboard-token-for-tests-0123"
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
/** Late on the second hand-counted day: the default window (14 days) ends there. */
const NOW = Date.parse(`${DAY2}T18:00:00Z`)

/** Breaker with no probe in the test's time, on a KIE that is never called. */
const Breaker = Layer.scoped(
  KieCircuitBreaker,
  Effect.map(makeCircuitBreaker({ minimumCredits: 1, firstProbeAfter: "1 hour", probe: Schedule.spaced("1 hour") }), KieCircuitBreaker.make)
).pipe(
  Layer.provide(KieClient.layerWith({ apiKey: Redacted.make("unused"), baseUrl: "http://127.0.0.1:9", uploadBaseUrl: "http://127.0.0.1:9" })),
  Layer.provide(OperatorAlerts.Log)
)

/** Two runners in the cluster's tables, as its storage writes them: this one with 200 shards, another with 100. */
const registerRunners = (self: RunnerAddress.RunnerAddress) =>
  Effect.gen(function*() {
    const storage = yield* RunnerStorage.RunnerStorage
    const other = RunnerAddress.make("10.0.0.2", 34431)
    yield* storage.register(Runner.make({ address: self, groups: ["default"], weight: 1 }), true)
    yield* storage.register(Runner.make({ address: other, groups: ["default"], weight: 1 }), true)
    const shard = (i: number) => ShardId.make("default", i)
    yield* storage.acquire(self, Array.from({ length: 200 }, (_, i) => shard(i + 1)))
    yield* storage.acquire(other, Array.from({ length: 100 }, (_, i) => shard(i + 201)))
  }).pipe(Effect.orDie)

/** The cluster's runner storage: its tables, and (on Postgres) the session holding the shard locks. */
const ClusterStorage = SqlRunnerStorage.layer.pipe(Layer.provide(ShardingConfig.layer({ shardsPerGroup: 300 })))

/** The dashboard routes alone on a loopback port, over the seeded database; its base URL and context. */
const dashboardServer = (token: Option.Option<string>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    const env = Option.match(token, { onNone: () => ({}), onSome: (value) => ({ DASHBOARD_TOKEN: value }) })
    const settings = yield* freshSettings("sqlite", env)
    const context = yield* Layer.build(
      AppRouter.serve().pipe(
        Layer.provide(DashboardRoutes),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(Layer.mergeAll(Breaker, RateLimits.Default, ClusterStorage)),
        Layer.provideMerge(DatabaseLive),
        Layer.provide(configLayer(settings))
      )
    )
    yield* seed.pipe(Effect.provide(context))
    yield* seedHistory(seededRandom(8)).pipe(Effect.provide(context))
    yield* registerRunners(RunnerAddress.make(settings.runnerHost, settings.runnerPort)).pipe(Effect.provide(context))
    const address = Context.get(context, HttpServer.HttpServer).address
    return { base: address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "", context }
  })

const request = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { redirect: "manual", ...init })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

const signIn = (base: string, token: string) =>
  request(`${base}/dashboard/session`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }).toString()
  })

describe("/dashboard", () => {
  it.scoped("sign-in: a form POST sets an HttpOnly, SameSite=Strict session cookie; bearer still works; a token in the address is never taken", () =>
    Effect.gen(function*() {
      const { base } = yield* dashboardServer(Option.some(TOKEN))
      const page = `${base}/dashboard`
      const anonymous = yield* request(page)
      assert.strictEqual(anonymous.status, 401)
      assert.include(anonymous.text, `action="/dashboard/session"`)
      assert.notInclude(anonymous.text, `data-chart=`)
      assert.strictEqual((yield* request(page, { headers: { authorization: "Bearer wrong" } })).status, 401)
      assert.include((yield* request(page, { headers: { authorization: `Bearer ${TOKEN}` } })).text, `data-chart="jobs-per-day"`)
      assert.strictEqual((yield* request(`${base}/dashboard/data.json`)).status, 401)

      const wrong = yield* signIn(base, "not-the-token")
      assert.strictEqual(wrong.status, 401)
      assert.isNull(wrong.headers.get("set-cookie"))
      const right = yield* signIn(base, TOKEN)
      assert.strictEqual(right.status, 303)
      assert.strictEqual(right.headers.get("location"), "/dashboard")
      const cookie = right.headers.get("set-cookie") ?? ""
      assert.match(cookie, /^dashboard_session=v1\.\d+\.[\w-]+;/)
      assert.match(cookie, /HttpOnly/)
      assert.match(cookie, /SameSite=Strict/)
      assert.match(cookie, /Path=\/dashboard/)
      assert.notInclude(cookie, TOKEN)
      const session = cookie.split(";")[0]!
      assert.include((yield* request(page, { headers: { cookie: session } })).text, `data-chart="jobs-per-day"`)
      const json = JSON.parse((yield* request(`${base}/dashboard/data.json?days=7`, { headers: { cookie: session } })).text)
      assert.strictEqual(json.windowDays, 7)
      assert.strictEqual(json.days.length, 7)
      assert.containsAllKeys(json.html, ["kpis", "live", "charts"])

      // A forged or expired session opens nothing.
      const [, expiry, mac] = session.split(".")
      assert.strictEqual((yield* request(page, { headers: { cookie: `dashboard_session=v1.${Number(expiry) + 1}.${mac}` } })).status, 401)
      yield* TestClock.adjust("13 hours")
      assert.strictEqual((yield* request(page, { headers: { cookie: session } })).status, 401)

      // The old way in: redirected to the bare page, not signed in, even with the right token.
      const byQuery = yield* request(`${page}?token=${TOKEN}`)
      assert.strictEqual(byQuery.status, 303)
      assert.strictEqual(byQuery.headers.get("location"), "/dashboard")
      assert.isNull(byQuery.headers.get("set-cookie"))
      assert.notInclude(byQuery.text, TOKEN)

      const out = yield* request(`${base}/dashboard/signout`, { method: "POST", headers: { cookie: session } })
      assert.strictEqual(out.status, 303)
      assert.match(out.headers.get("set-cookie") ?? "", /^dashboard_session=;.*Max-Age=0/)
    }))

  it.scoped("on Postgres, a runner's shards are the advisory locks its sessions hold", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings("pg")
      const context = yield* Layer.build(
        Layer.mergeAll(Breaker, RateLimits.Default, ClusterStorage).pipe(Layer.provideMerge(DatabaseLive), Layer.provideMerge(configLayer(settings)))
      )
      yield* registerRunners(RunnerAddress.make(settings.runnerHost, settings.runnerPort)).pipe(Effect.provide(context))
      const live = yield* liveState.pipe(Effect.provide(context))
      // The other runner's locks were taken by this process too, so they count as this runner's.
      assert.deepStrictEqual(live.runners.map((r) => [r.address, r.self, r.shards]), [
        ["10.0.0.2:34431", false, 0],
        [`${settings.runnerHost}:${settings.runnerPort}`, true, 300]
      ])
    }))

  it.scoped("does not exist when DASHBOARD_TOKEN is unset", () =>
    Effect.gen(function*() {
      const { base } = yield* dashboardServer(Option.none())
      assert.strictEqual((yield* request(`${base}/dashboard`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404)
      assert.strictEqual((yield* request(`${base}/dashboard/data.json`)).status, 404)
      assert.strictEqual((yield* signIn(base, TOKEN)).status, 404)
    }))

  it.scoped("in Chromium: signed in by the form, the live state and the charts; a window and a refresh without a reload; a screenshot", () =>
    Effect.gen(function*() {
      const { base, context } = yield* dashboardServer(Option.some(TOKEN))
      const breaker = Context.get(context, KieCircuitBreaker)
      yield* breaker.observe(Effect.fail(new KieOperatorError({ reason: "AccountOutOfCredits", operation: "createTask", code: 402, msg: "credits insufficient" }))).pipe(Effect.ignore)
      const limits = Context.get(context, RateLimits)
      for (const chat of [11, 12, 11]) {
        yield* limits.consume({ key: `telegram:chat:${chat}`, limit: 3, window: "3 seconds", algorithm: "token-bucket", onExceeded: "delay" })
      }

      const browser = yield* Effect.acquireRelease(
        Effect.promise(() => chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })),
        (browser) => Effect.promise(() => browser.close())
      )
      const page = yield* Effect.promise(() => browser.newPage({ viewport: { width: 1400, height: 1000 } }))
      const run = <A>(f: () => Promise<A>) => Effect.promise(f)
      // Not page.waitForFunction: it runs its predicate through eval, which the page's CSP
      // (no 'unsafe-eval') refused in a CI run. page.evaluate goes through CDP instead.
      const waitUntilTrue = (expression: string) =>
        run(async () => {
          for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
            if ((await page.evaluate(expression)) === true) return
            await new Promise((resolve) => setTimeout(resolve, 25))
          }
          throw new Error(`still false after 15 s: ${expression}`)
        })
      assert.strictEqual((yield* run(() => page.goto(`${base}/dashboard`)))?.status(), 401)
      yield* run(() => page.fill(`input[name="token"]`, TOKEN))
      yield* run(() => Promise.all([page.waitForURL(`${base}/dashboard`), page.click(`button[type="submit"]`)]))
      assert.strictEqual(page.url(), `${base}/dashboard`)
      assert.strictEqual(yield* run(() => page.evaluate("document.cookie")), "")

      const text = (selector: string) => run(() => page.$eval(selector, (el) => (el.textContent ?? "").replace(/\s+/g, " ").trim()))
      const rows = (table: string) =>
        run(() => page.$$eval(`[data-table="${table}"] tr`, (trs) => trs.slice(1).map((tr) => [...tr.children].map((td) => td.textContent ?? ""))))
      const runners = yield* rows("runners")
      assert.deepStrictEqual(runners.map((row) => row.slice(1, 3)), [["100", "yes"], ["200", "yes"]])
      assert.strictEqual(runners[0]![0], "10.0.0.2:34431")
      assert.match(runners[1]![0]!, /:\d+ \(this one\)$/)
      assert.include(yield* text(`#live`), "300 of 300 shards held")
      assert.match(yield* text(`[data-kie="open"]`), /^OPEN since 2026-11-21 18:00:00 UTC: KIE createTask: AccountOutOfCredits, /)
      assert.deepStrictEqual((yield* rows("jobs-by-state")).map((row) => row.slice(0, 2)), [["polling", "1"]])
      assert.deepStrictEqual((yield* rows("budgets"))[0]!.slice(0, 4), ["telegram:chat:*", "1/s, burst 3", "3 requests (2 keys)", "0"])
      assert.include(yield* text(`#live`), "Rate limits: this process only")
      assert.strictEqual(yield* text(`[data-kpi="in-flight"] b`), "1")
      assert.match(yield* text(`[data-kpi="success-rate"]`), /^success, last 14 days\d+%$/)

      const charts = yield* run(() => page.$$eval("svg[data-chart]", (svgs) => svgs.map((svg) => svg.getAttribute("data-chart"))))
      assert.deepStrictEqual(charts, ["jobs-per-day", "success-rate", "failure-classes", "revenue", "generation-time"])
      const valueOf = (chart: string, series: string, day: string) =>
        run(() => page.$eval(`svg[data-chart="${chart}"] [data-series="${series}"][data-day="${day}"]`, (mark) => Number(mark.getAttribute("data-value"))))
      assert.strictEqual(yield* valueOf("jobs-per-day", "delivered", DAY1), 3)
      assert.strictEqual(yield* valueOf("jobs-per-day", "in progress", DAY2), 1)
      assert.strictEqual(yield* valueOf("success-rate", "success", DAY1), 75)
      assert.strictEqual(yield* valueOf("revenue", "stars", DAY1), 1150)
      assert.strictEqual(yield* valueOf("generation-time", "p95", DAY1), 120)
      const bars = () => run(() => page.$$eval(`svg[data-chart="jobs-per-day"] [data-series="delivered"]`, (marks) => marks.length))
      assert.strictEqual(yield* bars(), 14)
      yield* run(() => page.screenshot({ path: join(process.cwd(), "docs", "dashboard.png"), fullPage: true }))

      // Another window and a refresh swap the fragments in; the page itself stays (the marker survives).
      yield* run(() => page.evaluate("window.stillTheSamePage = true"))
      yield* run(() => Promise.all([page.waitForResponse((r) => r.url().endsWith("/dashboard/data.json?days=1")), page.selectOption("#days", "1")]))
      yield* waitUntilTrue(`document.querySelectorAll('svg[data-chart="jobs-per-day"] [data-series="delivered"]').length === 1`)
      assert.strictEqual(yield* text(`[data-kpi="success-rate"]`), "success, today33%")
      assert.notMatch(yield* text("body"), /\b1 days\b/)
      assert.strictEqual(page.url(), `${base}/dashboard?days=1`)
      yield* TestClock.adjust("7 hours")
      yield* run(() => Promise.all([page.waitForResponse((r) => r.url().includes("/dashboard/data.json")), page.click("#refresh")]))
      yield* waitUntilTrue(`document.body.dataset.generatedAt.startsWith("2026-11-22")`)
      assert.strictEqual(yield* run(() => page.evaluate("window.stillTheSamePage")), true)
    }), { timeout: 120_000 })
})
