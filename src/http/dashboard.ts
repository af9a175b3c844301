/**
 * The operators' dashboard (src/observability/dashboard-page.ts), for whoever holds
 * DASHBOARD_TOKEN; without a configured token none of these routes exists (404).
 *
 *   GET  /dashboard[?days=N]       the page, or the sign-in form (401)
 *   POST /dashboard/session        the form's token → session cookie (./dashboard-session.ts), 303 to the page
 *   POST /dashboard/signout        clears the cookie
 *   GET  /dashboard/data.json?days=N   the figures and the page's fragments, for refreshes
 *
 * `Authorization: Bearer` works on the page and the JSON. A token in the address
 * (`?token=`, the old way in) is not accepted: addresses end up in browser history, proxy
 * and load-balancer logs; such a request is redirected to the bare page, which asks to sign in.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { AppConfig } from "../config/index.js"
import { KieCircuitBreaker } from "../kie/circuit-breaker.js"
import { dashboardData, defaultWindow, windowChoices } from "../observability/dashboard-data.js"
import { dashboardFragments, renderDashboard, renderSignIn } from "../observability/dashboard-page.js"
import { RateLimits } from "../rate-limits/rate-limits.js"
import { isSignedIn, newSessionValue, sameSecret, sessionCookie, sessionCookieOptions, sessionLifetime } from "./dashboard-session.js"
import { AppRouter } from "./router.js"

const noStore = { "cache-control": "no-store", "referrer-policy": "no-referrer", "x-frame-options": "DENY" }

/** Only this response's own script and style run; data is fetched from here only. */
const securityHeaders = (nonce: string) => ({
  ...noStore,
  "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` +
    `connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`
})

const html = (body: (nonce: string) => string, status = 200) => {
  const nonce = randomBytes(16).toString("base64")
  return HttpServerResponse.html(body(nonce)).pipe(
    HttpServerResponse.setStatus(status),
    HttpServerResponse.setHeaders(securityHeaders(nonce))
  )
}

const notFound = HttpServerResponse.text("Not Found", { status: 404 })

const windowOf = (url: URL) => {
  const days = Number(url.searchParams.get("days") ?? defaultWindow)
  return (windowChoices as ReadonlyArray<number>).includes(days) ? days : defaultWindow
}

export const DashboardRoutes = AppRouter.use((router) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const services = yield* Effect.context<SqlClient.SqlClient | AppConfig | KieCircuitBreaker | RateLimits>()
    const figures = (days: number) => dashboardData(days).pipe(Effect.provide(services), Effect.orDie)
    const token = Option.map(config.dashboardToken, Redacted.value)

    /** The request's URL and whether it may see the dashboard; None when the dashboard does not exist. */
    const visitor = Effect.gen(function*() {
      if (Option.isNone(token)) return Option.none()
      const request = yield* HttpServerRequest.HttpServerRequest
      const now = yield* Clock.currentTimeMillis
      const url = new URL(request.url, "http://localhost")
      return Option.some({ request, url, signedIn: isSignedIn(request, token.value, now) })
    })

    yield* router.get(
      "/dashboard",
      Effect.gen(function*() {
        const found = yield* visitor
        if (Option.isNone(found)) return notFound
        const { signedIn, url } = found.value
        if (url.searchParams.has("token")) {
          return HttpServerResponse.empty({ status: 303, headers: { ...noStore, location: "/dashboard" } })
        }
        if (!signedIn) {
          return yield* html((nonce) => renderSignIn(nonce), 401).pipe(
            Effect.map(HttpServerResponse.setHeader("www-authenticate", "Bearer realm=\"dashboard\""))
          )
        }
        const data = yield* figures(windowOf(url))
        return yield* html((nonce) => renderDashboard(data, nonce))
      })
    )

    yield* router.get(
      "/dashboard/data.json",
      Effect.gen(function*() {
        const found = yield* visitor
        if (Option.isNone(found)) return notFound
        if (!found.value.signedIn) return HttpServerResponse.text("Unauthorized", { status: 401, headers: noStore })
        const data = yield* figures(windowOf(found.value.url))
        return yield* HttpServerResponse.json({ ...data, html: dashboardFragments(data) }, { headers: noStore })
      })
    )

    yield* router.post(
      "/dashboard/session",
      Effect.gen(function*() {
        const found = yield* visitor
        if (Option.isNone(found) || Option.isNone(token)) return notFound
        const request = found.value.request
        const form = yield* request.urlParamsBody.pipe(Effect.orElseSucceed(() => []))
        const given = form.find(([key]) => key === "token")?.[1] ?? ""
        if (given === "" || !sameSecret(given, token.value)) {
          return yield* html((nonce) => renderSignIn(nonce, "That is not the dashboard token."), 401)
        }
        const now = yield* Clock.currentTimeMillis
        return yield* HttpServerResponse.empty({ status: 303, headers: { ...noStore, location: "/dashboard" } }).pipe(
          HttpServerResponse.setCookie(sessionCookie, newSessionValue(token.value, now), sessionCookieOptions(request, sessionLifetime)),
          Effect.orDie
        )
      })
    )

    yield* router.post(
      "/dashboard/signout",
      Effect.gen(function*() {
        const found = yield* visitor
        if (Option.isNone(found)) return notFound
        return yield* HttpServerResponse.empty({ status: 303, headers: { ...noStore, location: "/dashboard" } }).pipe(
          HttpServerResponse.setCookie(sessionCookie, "", sessionCookieOptions(found.value.request, Duration.zero)),
          Effect.orDie
        )
      })
    )
  })
).pipe(Layer.provide(RateLimits.Default))
