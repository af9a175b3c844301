/**
 * Who may see the dashboard: a request with `Authorization: Bearer <DASHBOARD_TOKEN>`
 * (scripts, curl), or a browser holding the session cookie the sign-in form set.
 *
 * The cookie is not the token: it is `v1.<expiry ms>.<HMAC-SHA256 of the expiry, keyed by
 * the token>`, so it opens the dashboard until it expires and no longer, it is good on
 * every runner (no session store), changing DASHBOARD_TOKEN ends every session, and a
 * stolen cookie does not reveal the token. HttpOnly (no script reads it), SameSite=Strict
 * (no other site's page sends it), Path=/dashboard, Secure behind an HTTPS proxy.
 */
import { HttpServerRequest } from "@effect/platform"
import { Duration } from "effect"
import { createHash, createHmac, timingSafeEqual } from "node:crypto"

export const sessionCookie = "dashboard_session"
export const sessionLifetime = Duration.hours(12)

const digest = (text: string) => createHash("sha256").update(text).digest()

/** Constant-time equality of two secrets of any length. */
export const sameSecret = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected))

const signature = (token: string, expiresAtMs: number) =>
  createHmac("sha256", token).update(`dashboard-session.v1.${expiresAtMs}`).digest("base64url")

export const newSessionValue = (token: string, nowMs: number) => {
  const expiresAtMs = nowMs + Duration.toMillis(sessionLifetime)
  return `v1.${expiresAtMs}.${signature(token, expiresAtMs)}`
}

export const isValidSession = (token: string, value: string, nowMs: number) => {
  const [version, expiry, mac] = value.split(".")
  const expiresAtMs = Number(expiry)
  if (version !== "v1" || mac === undefined || !Number.isSafeInteger(expiresAtMs) || expiresAtMs <= nowMs) return false
  return sameSecret(mac, signature(token, expiresAtMs))
}

/** Whether the request carries the token as a bearer header or a valid session cookie. */
export const isSignedIn = (request: HttpServerRequest.HttpServerRequest, token: string, nowMs: number) => {
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers["authorization"] ?? "")?.[1]
  if (bearer !== undefined) return sameSecret(bearer, token)
  const session = request.cookies[sessionCookie]
  return session !== undefined && isValidSession(token, session, nowMs)
}

/** Whether the browser reached us over HTTPS (through the load balancer): then the cookie is Secure. */
export const overHttps = (request: HttpServerRequest.HttpServerRequest) =>
  (request.headers["x-forwarded-proto"] ?? "").split(",")[0]?.trim().toLowerCase() === "https"

export const sessionCookieOptions = (request: HttpServerRequest.HttpServerRequest, maxAge: Duration.Duration) => ({
  httpOnly: true,
  sameSite: "strict" as const,
  path: "/dashboard",
  secure: overHttps(request),
  maxAge
})
