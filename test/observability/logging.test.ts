import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, LogLevel, Option, Redacted } from "effect"
import { createServer } from "node:http"
import { AppConfig } from "../../src/config/index.js"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { JobId } from "../../src/domain/ids.js"
import { KieCallbackRoutes } from "../../src/http/kie-callback.js"
import { AppRouter } from "../../src/http/router.js"
import { KieCallbackAuth, makeCallbackAuth } from "../../src/kie/callback-auth.js"
import { KieCallbackSink } from "../../src/kie/callback-sink.js"
import { loggingLayer } from "../../src/observability/logging.js"
import { encodePayload, newNonce } from "../../src/payments/invoice-payload.js"
import { PaymentSecret, PaymentService } from "../../src/payments/index.js"
import { startSimulators } from "../support/job-harness.js"
import { paymentsRunner } from "../support/payments-bot.js"

const settingsFrom = AppConfig.fromEnv

/** Runs `body` under the logging layer and returns what it wrote to the console. */
const captured = <A, E>(env: Record<string, string>, body: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const settings = yield* settingsFrom(env)
    const lines: Array<string> = []
    const log = console.log
    console.log = (...args: Array<unknown>) => lines.push(args.map(String).join(" "))
    yield* body.pipe(Effect.provide(loggingLayer(settings)), Effect.ensuring(Effect.sync(() => (console.log = log))))
    return lines
  })

interface JsonLine {
  readonly message: unknown
  readonly logLevel: string
  readonly annotations: Record<string, unknown>
}

/** Runs `body` with production's JSON logger under `system` (built inside it) and returns the parsed lines. */
const jsonLinesOf = <A, E, R>(system: Layer.Layer<R, unknown>, body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const log = console.log
    console.log = (...args: Array<unknown>) => lines.push(args.map(String).join(" "))
    const result = yield* body.pipe(
      Effect.provide(system.pipe(Layer.provide(loggingLayer({ nodeEnv: "production", logLevel: LogLevel.All })))),
      Effect.ensuring(Effect.sync(() => (console.log = log)))
    )
    const parsed = lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as JsonLine]
      } catch {
        return []
      }
    })
    return { result, lines: parsed }
  })

const text = (line: JsonLine) => JSON.stringify(line.message)

describe("logging", () => {
  it.effect("production writes one JSON object per line with the job's annotations and no secrets", () =>
    Effect.gen(function*() {
      const lines = yield* captured(
        { NODE_ENV: "production" },
        Effect.logInfo("job delivered", { token: Redacted.make("123:SECRET") }).pipe(
          Effect.annotateLogs({ jobId: "j-1", userId: "42" })
        )
      )
      assert.strictEqual(lines.length, 1)
      const entry = JSON.parse(lines[0]!)
      assert.strictEqual(entry.logLevel, "INFO")
      assert.deepStrictEqual(entry.annotations, { jobId: "j-1", userId: "42" })
      assert.include(JSON.stringify(entry.message), "job delivered")
      assert.notInclude(lines[0]!, "SECRET")
    }))

  it.effect("LOG_LEVEL drops lines below it; development is not JSON", () =>
    Effect.gen(function*() {
      const lines = yield* captured(
        { NODE_ENV: "development", LOG_LEVEL: "warning" },
        Effect.all([Effect.logInfo("quiet"), Effect.logWarning("loud")])
      )
      assert.strictEqual(lines.filter((line) => line.includes("quiet")).length, 0)
      assert.isAtLeast(lines.filter((line) => line.includes("loud")).length, 1)
      assert.throws(() => JSON.parse(lines.join("\n")))
    }))

  it.effect("a bad LOG_LEVEL or a short DASHBOARD_TOKEN is a configuration error naming the variable", () =>
    Effect.gen(function*() {
      const level = yield* Effect.flip(settingsFrom({ LOG_LEVEL: "loud" }))
      assert.include(String(level), "LOG_LEVEL must be one of all, trace, debug, info, warning, error, fatal, none")
      const token = yield* Effect.flip(settingsFrom({ DASHBOARD_TOKEN: "short" }))
      assert.include(String(token), "DASHBOARD_TOKEN must be at least 16 characters")
      const defaults = yield* settingsFrom({})
      assert.strictEqual(defaults.logLevel, LogLevel.Info)
      assert.strictEqual(defaults.nodeEnv, "development")
    }))

  it.scopedLive("a job's lines in the user entity and the payments name the job and the user", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators("sqlite", { env: { FREE_TOKENS: "2" } })
      const { result: jobs, lines } = yield* jsonLinesOf(paymentsRunner(sims.settings), Effect.gen(function*() {
        const users = yield* UserEntity.client
        const ann = users("4242")
        yield* ann.Register({ requestKey: "register:4242", profile: { firstName: "Ann" } })
        const start = (requestKey: string) =>
          ann.StartJob({
            requestKey, chatId: 4242, photo: { fileId: "photo" }, prompt: "move", model: "kling-2.6/image-to-video",
            durationSeconds: 5, cost: 1
          })
        const delivered = (yield* start("msg:4242:1")).jobId
        yield* ann.Capture({ jobId: delivered })
        const refunded = (yield* start("msg:4242:2")).jobId
        yield* ann.Refund({ jobId: refunded, reason: "KieUserError" })
        // Refunding a job already captured is refused; the refusal names the job too.
        yield* Effect.flip(ann.Refund({ jobId: delivered, reason: "late" }))

        const secret = yield* PaymentSecret
        const payments = yield* PaymentService
        yield* payments.completePayment({
          chargeId: "charge-4242", userId: 4242, currency: "XTR", totalAmount: 250,
          invoicePayload: encodePayload(secret, { credits: 5, stars: 250, userId: 4242, nonce: newNonce() })
        })
        return { delivered, refunded }
      }))

      const ofJob = (jobId: JobId) => lines.filter((line) => line.annotations.jobId === jobId)
      const messages = (jobId: JobId) => ofJob(jobId).map(text).join("\n")
      assert.include(messages(jobs.delivered), "job reserved")
      assert.include(messages(jobs.delivered), "job's reservation captured")
      assert.include(messages(jobs.delivered), "refund refused")
      assert.include(messages(jobs.refunded), "job reserved")
      assert.include(messages(jobs.refunded), "job's reservation refunded")
      for (const line of [...ofJob(jobs.delivered), ...ofJob(jobs.refunded)]) {
        assert.strictEqual(line.annotations.userId, 4242, text(line))
      }
      // No line mentions one of these jobs without naming it in its annotations.
      for (const line of lines) {
        const mentioned = [jobs.delivered, jobs.refunded].find((jobId) => JSON.stringify(line).includes(jobId))
        if (mentioned !== undefined) assert.strictEqual(line.annotations.jobId, mentioned, text(line))
      }

      const credited = lines.filter((line) => text(line).includes("payment credited"))
      assert.strictEqual(credited.length, 1)
      assert.deepInclude(credited[0]!.annotations, { userId: 4242, chargeId: "charge-4242", credits: 5 })
      assert.isFalse(lines.some((line) => JSON.stringify(line).includes(sims.settings.telegram.botToken.pipe(
        Option.map(Redacted.value),
        Option.getOrElse(() => "no token")
      ))))
    }), 60_000)

  it.scoped("the KIE callback route's lines name the job", () =>
    Effect.gen(function*() {
      const settings = { secret: Redacted.make("server-secret"), webhookHmacKey: Option.none() }
      let publicUrl = ""
      const auth = Layer.succeed(KieCallbackAuth, KieCallbackAuth.make(makeCallbackAuth({ ...settings, publicUrl: Option.none() })))
      const unreachable = Layer.succeed(KieCallbackSink, { wake: () => Effect.fail("entity unreachable") })
      const server = AppRouter.serve().pipe(
        Layer.provide(KieCallbackRoutes.pipe(Layer.provide([auth, unreachable]))),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
      const { result: status, lines } = yield* jsonLinesOf(server, Effect.gen(function*() {
        const address = (yield* HttpServer.HttpServer).address
        publicUrl = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
        const url = Option.getOrThrow(makeCallbackAuth({ ...settings, publicUrl: Option.some(publicUrl) }).callbackUrl("job_abc"))
        return yield* Effect.promise(() =>
          fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ data: { taskId: "t-1" } }) })
            .then((response) => response.status)
        )
      }))
      assert.strictEqual(status, 500)
      const failed = lines.filter((line) => text(line).includes("could not be handed to the job"))
      assert.strictEqual(failed.length, 1)
      assert.strictEqual(failed[0]!.annotations.jobId, "job_abc")
      assert.strictEqual(failed[0]!.logLevel, "ERROR")
    }))
})
