import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { mkdirSync } from "node:fs"
import { createServer } from "node:http"
import { join } from "node:path"
import { chromium } from "playwright-core"
import { DashboardRoutes } from "../../src/http/dashboard.js"
import { AppRouter } from "../../src/http/router.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { configLayer, freshSettings } from "../support/database.js"
import { seededRandom } from "../support/runner.js"
import { DAY1, DAY2, seed, seedHistory } from "./seed.js"

const TOKEN = "dashboard-token-for-tests-0123"
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
/** Where the browser test leaves its screenshot (a CI artifact). */
const ARTIFACTS = join(process.cwd(), "test-artifacts")

/** The dashboard route alone on a loopback port, over a seeded SQLite database. */
const dashboardServer = (token: Option.Option<string>) =>
  Effect.gen(function*() {
    const env = Option.match(token, { onNone: () => ({}), onSome: (value) => ({ DASHBOARD_TOKEN: value }) })
    const settings = yield* freshSettings("sqlite", env)
    const context = yield* Layer.build(
      AppRouter.serve().pipe(
        Layer.provide(DashboardRoutes),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(DatabaseLive),
        Layer.provide(configLayer(settings))
      )
    )
    yield* seed.pipe(Effect.provide(context))
    yield* seedHistory(seededRandom(8)).pipe(Effect.provide(context))
    const address = Context.get(context, HttpServer.HttpServer).address
    return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}/dashboard` : ""
  })

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers })
    return { status: response.status, text: await response.text() }
  })

describe("GET /dashboard", () => {
  it.scopedLive("answers 401 without the token or with a wrong one, and the page with it (query or bearer)", () =>
    Effect.gen(function*() {
      const url = yield* dashboardServer(Option.some(TOKEN))
      assert.strictEqual((yield* get(url)).status, 401)
      assert.strictEqual((yield* get(`${url}?token=wrong`)).status, 401)
      assert.strictEqual((yield* get(url, { authorization: "Bearer wrong" })).status, 401)
      const byQuery = yield* get(`${url}?token=${TOKEN}`)
      assert.strictEqual(byQuery.status, 200)
      assert.include(byQuery.text, `data-chart="jobs-per-day"`)
      const byBearer = yield* get(url, { authorization: `Bearer ${TOKEN}` })
      assert.strictEqual(byBearer.status, 200)
    }))

  it.scopedLive("does not exist when DASHBOARD_TOKEN is unset", () =>
    Effect.gen(function*() {
      const url = yield* dashboardServer(Option.none())
      assert.strictEqual((yield* get(`${url}?token=${TOKEN}`)).status, 404)
    }))

  it.scopedLive("renders its charts with the seeded figures in headless Chromium, and saves a screenshot", () =>
    Effect.gen(function*() {
      const url = yield* dashboardServer(Option.some(TOKEN))
      const browser = yield* Effect.acquireRelease(
        Effect.promise(() => chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })),
        (browser) => Effect.promise(() => browser.close())
      )
      const page = yield* Effect.promise(() => browser.newPage({ viewport: { width: 1280, height: 1000 } }))
      const response = yield* Effect.promise(() => page.goto(`${url}?token=${TOKEN}`))
      assert.strictEqual(response?.status(), 200)

      const charts = yield* Effect.promise(() =>
        page.$$eval("svg[data-chart]", (svgs) =>
          svgs.map((svg) => {
            const box = svg.getBoundingClientRect()
            return { name: svg.getAttribute("data-chart"), width: box.width, height: box.height, marks: svg.querySelectorAll("[data-value]").length }
          }))
      )
      assert.deepStrictEqual(charts.map((c) => c.name), ["jobs-per-day", "success-rate", "failure-classes", "revenue", "generation-time"])
      for (const chart of charts) {
        assert.isAbove(chart.width, 300, chart.name ?? "")
        assert.isAbove(chart.height, 100, chart.name ?? "")
        assert.isAbove(chart.marks, 0, chart.name ?? "")
      }
      const valueOf = (chart: string, series: string, day: string) =>
        Effect.promise(() =>
          page.$eval(
            `svg[data-chart="${chart}"] [data-series="${series}"][data-day="${day}"]`,
            (mark) => ({ value: Number(mark.getAttribute("data-value")), height: mark.getBoundingClientRect().height })
          )
        )
      // The two hand-counted days (see seed.ts), as the browser lays them out.
      const delivered1 = yield* valueOf("jobs-per-day", "delivered", DAY1)
      assert.strictEqual(delivered1.value, 3)
      assert.isAbove(delivered1.height, 0)
      assert.strictEqual((yield* valueOf("jobs-per-day", "in progress", DAY2)).value, 1)
      assert.strictEqual((yield* valueOf("success-rate", "success", DAY1)).value, 75)
      assert.strictEqual((yield* valueOf("revenue", "stars", DAY1)).value, 1150)
      assert.strictEqual((yield* valueOf("generation-time", "p50", DAY1)).value, 60)
      assert.strictEqual((yield* valueOf("generation-time", "p95", DAY1)).value, 120)
      const inFlight = yield* Effect.promise(() => page.$eval(`[data-kpi="in-flight"] b`, (b) => b.textContent))
      assert.strictEqual(inFlight, "1")
      const days = yield* Effect.promise(() =>
        page.$$eval(`svg[data-chart="jobs-per-day"] [data-series="delivered"]`, (marks) => marks.length)
      )
      assert.strictEqual(days, 14)

      mkdirSync(ARTIFACTS, { recursive: true })
      const path = join(ARTIFACTS, "dashboard.png")
      yield* Effect.promise(() => page.screenshot({ path, fullPage: true }))
      if (process.env.UPDATE_DASHBOARD_PNG === "1") {
        yield* Effect.promise(() => page.screenshot({ path: join(process.cwd(), "docs", "dashboard.png"), fullPage: true }))
      }
    }), { timeout: 120_000 })
})
