/**
 * What an attacker on the network can reach: every HTTP endpoint of a real runner process
 * (`src/main.ts` in webhook mode, against both simulators), with forged credentials, huge
 * bodies and malformed ones. The runner must refuse each with a 4xx, keep serving, and
 * never print or store a secret. Its /metrics also carries the process's own metrics.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { request } from "node:http"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { kieSignature, makeCallbackAuth } from "../../src/kie/callback-auth.js"
import { kieSimulator } from "../../src/sim/kie/index.js"
import { makeTelegramSimulator } from "../../src/sim/telegram/index.js"
import { freePort, startBot, waitFor } from "../../src/sim/runner-process.js"
import { assertProcessMetrics } from "../observability/exposition.js"

const WEBHOOK_SECRET = "webhook-secret-4f1c9a"
const CALLBACK_SECRET = "callback-secret-77d02e"
const HMAC_KEY = "kie-hmac-key-1b8e55"
const DASHBOARD_TOKEN = "dashboard-token-c3a9f0"
const PAYMENTS_SECRET = "payments-secret-for-the-security-test"

interface Answer {
  readonly status: number
  readonly body: string
}

/**
 * One request with node:http, so that any method may carry a body and an answer that comes
 * before the whole body was sent is still read (the server may stop reading at the cap).
 */
const send = (
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {}
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    let answered = false
    const req = request({
      host: "127.0.0.1",
      port,
      method,
      path,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }),
        ...headers
      }
    }, (res) => {
      answered = true
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => (text += chunk))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on("error", () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    // A server that answers early and closes may break the upload; the answer is what counts.
    req.on("error", (error) => (answered ? undefined : reject(error)))
    if (body !== undefined) req.write(body)
    req.end()
  })

/**
 * Chunked, with no declared length: the cap has to hold while the route reads. Past the cap
 * the platform stops reading and closes the connection under the 413, so the client may see
 * a reset instead (status 0); either way the body was refused.
 */
const sendChunked = (port: number, path: string, chunks: number, chunk: string, headers: Record<string, string> = {}) =>
  new Promise<Answer>((resolve, reject) => {
    let answered = false
    const req = request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path,
      headers: { "content-type": "application/json", "transfer-encoding": "chunked", ...headers }
    }, (res) => {
      answered = true
      let text = ""
      res.on("data", (c) => (text += c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on("error", () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on("error", (error) =>
      answered
        ? undefined
        : (error as NodeJS.ErrnoException).code === "ECONNRESET" || (error as NodeJS.ErrnoException).code === "EPIPE"
        ? resolve({ status: 0, body: "connection reset" })
        : reject(error))
    let written = 0
    const pump = () => {
      while (written < chunks) {
        written++
        if (!req.write(chunk)) return void req.once("drain", pump)
      }
      req.end()
    }
    pump()
  })

const tenMegabytes = `{"update_id":1,"pad":"${"x".repeat(10_000_000)}"}`
const malformed = `{"update_id": 1, "message": {`

describe("HTTP endpoints of a running runner", () => {
  it.live("refuse forged credentials, huge and malformed bodies with 4xx, keep serving, and neither print nor store a secret", () =>
    Effect.gen(function*() {
      const telegram = yield* makeTelegramSimulator({ host: "127.0.0.1" })
      const kie = yield* kieSimulator({ host: "127.0.0.1", clock: "real", webhookHmacKey: HMAC_KEY })
      const dataDir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "bot-security-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const [port, runnerPort] = yield* Effect.promise(() => Promise.all([freePort(), freePort()]))
      const secrets = [telegram.token, kie.apiKey, WEBHOOK_SECRET, CALLBACK_SECRET, HMAC_KEY, DASHBOARD_TOKEN, PAYMENTS_SECRET]
      const bot = yield* Effect.acquireRelease(
        Effect.sync(() =>
          startBot({
            DATA_DIR: dataDir,
            HTTP_HOST: "127.0.0.1",
            HTTP_PORT: String(port),
            RUNNER_PORT: String(runnerPort),
            TELEGRAM_BOT_TOKEN: telegram.token,
            TELEGRAM_API_ROOT: telegram.url,
            TELEGRAM_MODE: "webhook",
            TELEGRAM_WEBHOOK_SECRET: WEBHOOK_SECRET,
            PUBLIC_URL: `http://127.0.0.1:${port}`,
            KIE_API_KEY: kie.apiKey,
            KIE_BASE_URL: kie.url,
            KIE_UPLOAD_BASE_URL: kie.url,
            KIE_CALLBACK_SECRET: CALLBACK_SECRET,
            KIE_WEBHOOK_HMAC_KEY: HMAC_KEY,
            PAYMENTS_SECRET,
            DASHBOARD_TOKEN,
            LOG_LEVEL: "debug"
          })
        ),
        (bot) =>
          Effect.promise(async () => {
            if (bot.child.exitCode === null) bot.child.kill("SIGTERM")
            await bot.exited
          })
      )
      const ready = yield* Effect.promise(() =>
        waitFor(async () => (await send(port, "GET", "/readyz")).status === 200, 60_000)
      )
      assert.isTrue(ready, `runner never became ready:\n${bot.output()}`)
      const call = (method: string, path: string, body?: string, headers?: Record<string, string>) =>
        Effect.promise(() => send(port, method, path, body, headers))
      const statusOf = (method: string, path: string, body?: string, headers?: Record<string, string>) =>
        Effect.map(call(method, path, body, headers), (answer) => answer.status)

      // Telegram webhook: the secret header or nothing.
      const update = JSON.stringify({
        update_id: 77,
        message: { message_id: 1, date: 0, chat: { id: 61, type: "private" }, from: { id: 61, is_bot: false, first_name: "Eve" }, text: "/start" }
      })
      const webhook = "/telegram/webhook"
      assert.strictEqual(yield* statusOf("POST", webhook, update), 401)
      assert.strictEqual(yield* statusOf("POST", webhook, update, { "x-telegram-bot-api-secret-token": "guess" }), 401)
      assert.strictEqual(
        yield* statusOf("POST", webhook, update, { "x-telegram-bot-api-secret-token": `${WEBHOOK_SECRET}x` }),
        401
      )
      assert.strictEqual(yield* statusOf("POST", webhook, malformed, { "x-telegram-bot-api-secret-token": WEBHOOK_SECRET }), 400)
      assert.strictEqual(
        yield* statusOf("POST", webhook, tenMegabytes, { "x-telegram-bot-api-secret-token": WEBHOOK_SECRET }),
        413
      )
      const chunkedUpdate = yield* Effect.promise(() =>
        sendChunked(port, webhook, 200, "x".repeat(64 * 1024), { "x-telegram-bot-api-secret-token": WEBHOOK_SECRET })
      )
      assert.include([413, 0], chunkedUpdate.status)
      // The forged update made no user.
      assert.isFalse(telegram.calls.all().some((c) => Number(c.params.chat_id) === 61))

      // KIE callback: the per-job token and KIE's signature, both.
      const auth = makeCallbackAuth({
        secret: Redacted.make(CALLBACK_SECRET),
        webhookHmacKey: Option.none(),
        publicUrl: Option.some(`http://127.0.0.1:${port}`)
      })
      const callbackPath = (jobId: string) => {
        const url = new URL(Option.getOrThrow(auth.callbackUrl(jobId)))
        return `${url.pathname}${url.search}`
      }
      const taskBody = JSON.stringify({ code: 200, msg: "success", data: { taskId: "task-1", state: "success" } })
      const now = String(Math.floor(Date.now() / 1000))
      const signed = { "x-webhook-timestamp": now, "x-webhook-signature": kieSignature(HMAC_KEY, "task-1", now) }
      const forgedSignature = { "x-webhook-timestamp": now, "x-webhook-signature": kieSignature("not-the-key", "task-1", now) }
      const stale = String(Math.floor(Date.now() / 1000) - 3600)
      const staleSignature = { "x-webhook-timestamp": stale, "x-webhook-signature": kieSignature(HMAC_KEY, "task-1", stale) }
      assert.strictEqual(yield* statusOf("POST", "/kie/callback", taskBody, signed), 401)
      assert.strictEqual(yield* statusOf("POST", "/kie/callback?job=job-1&token=guess", taskBody, signed), 401)
      // A token minted for another job does not open this one.
      const otherJobsToken = new URL(Option.getOrThrow(auth.callbackUrl("job-2"))).searchParams.get("token")!
      assert.strictEqual(yield* statusOf("POST", `/kie/callback?job=job-1&token=${otherJobsToken}`, taskBody, signed), 401)
      assert.strictEqual(yield* statusOf("POST", callbackPath("job-1"), taskBody), 401)
      assert.strictEqual(yield* statusOf("POST", callbackPath("job-1"), taskBody, forgedSignature), 401)
      assert.strictEqual(yield* statusOf("POST", callbackPath("job-1"), taskBody, staleSignature), 401)
      assert.strictEqual(yield* statusOf("POST", callbackPath("job-1"), malformed, signed), 400)
      assert.strictEqual(yield* statusOf("POST", callbackPath("job-1"), tenMegabytes, signed), 413)
      const chunkedCallback = yield* Effect.promise(() =>
        sendChunked(port, callbackPath("job-1"), 200, "x".repeat(64 * 1024), signed)
      )
      assert.include([413, 0], chunkedCallback.status)

      // Dashboard: the token (bearer, or the sign-in form's session) or nothing; never from the address.
      assert.strictEqual(yield* statusOf("GET", "/dashboard"), 401)
      assert.strictEqual(yield* statusOf("GET", "/dashboard?token=guess"), 303)
      assert.strictEqual(yield* statusOf("GET", `/dashboard?token=${DASHBOARD_TOKEN}`), 303)
      assert.strictEqual(yield* statusOf("GET", "/dashboard", undefined, { authorization: "Bearer guess" }), 401)
      assert.strictEqual(yield* statusOf("GET", "/dashboard", undefined, { cookie: `dashboard_session=v1.${Date.now() + 60_000}.forged` }), 401)
      assert.strictEqual(yield* statusOf("GET", "/dashboard/data.json"), 401)
      assert.strictEqual(
        yield* statusOf("POST", "/dashboard/session", "token=guess", { "content-type": "application/x-www-form-urlencoded" }),
        401
      )

      // Every endpoint, and one that does not exist: a 10 MB body is refused before it is
      // read (413), a malformed one gets a 4xx, whatever the method.
      const paths = [webhook, "/kie/callback", "/metrics", "/dashboard", "/dashboard/session", "/healthz", "/readyz", "/no-such-route"]
      for (const path of paths) {
        for (const method of ["POST", "GET", "PUT"]) {
          const big = yield* call(method, path, tenMegabytes)
          assert.strictEqual(big.status, 413, `${method} ${path} with 10 MB: ${big.status}`)
        }
        const bad = yield* call("POST", path, malformed)
        assert.isTrue(bad.status >= 400 && bad.status < 500, `POST ${path} malformed: ${bad.status}`)
      }

      // Still serving: health, and a real update through the webhook reaches the bot.
      assert.strictEqual(yield* statusOf("GET", "/healthz"), 200)
      assert.strictEqual(yield* statusOf("GET", "/readyz"), 200)
      telegram.createUser({ id: 62, first_name: "Ann", language_code: "en" }).sendCommand("start")
      const answered = yield* Effect.promise(() =>
        waitFor(async () => telegram.calls.all().some((c) => c.method === "sendMessage" && Number(c.params.chat_id) === 62), 30_000)
      )
      assert.isTrue(answered, "the bot did not answer a real update after the attacks")
      assert.isTrue(telegram.deliveries().some((d) => d.via === "webhook"))

      // No secret in what the runner serves or printed (at debug level), nor in its database
      // file, read byte by byte once it has stopped and released the file.
      const metrics = yield* call("GET", "/metrics")
      // The runner's own process metrics, from prom-client, in its one exposition.
      assertProcessMetrics(metrics.body)
      const served = metrics.body + (yield* call("GET", "/readyz")).body
      for (const secret of secrets) assert.isFalse(served.includes(secret), "a secret appears in /metrics or /readyz")
      bot.child.kill("SIGTERM")
      assert.strictEqual(yield* Effect.promise(() => bot.exited), 0)
      const output = bot.output()
      for (const secret of secrets) assert.isFalse(output.includes(secret), "a secret appears in the runner's output")
      const files = readdirSync(dataDir).filter((file) => file.startsWith("bot.db"))
      assert.include(files, "bot.db")
      const stored = Buffer.concat(files.map((file) => readFileSync(join(dataDir, file))))
      // The scan reads real rows: the user who wrote /start is there.
      assert.isTrue(stored.includes("Ann"))
      for (const secret of secrets) assert.isFalse(stored.includes(secret), "a secret appears in the database file")
    }).pipe(Effect.scoped), 180_000)
})
