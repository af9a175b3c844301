import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Layer, LogLevel, Option, Redacted } from "effect"
import { Api, BotError, GrammyError, HttpError } from "grammy"
import { AppConfig } from "../../src/config/index.js"
import { errorSummary, logFailure } from "../../src/observability/error-summary.js"
import { loggingLayer, withSecretsRedacted } from "../../src/observability/logging.js"
import { guardedText, guardProcessOutput, type WritableOutput } from "../../src/observability/process-output.js"
import {
  printedFormsOf,
  ProcessRedactor,
  redactorOf,
  SecretRedactor,
  secretValuesIn
} from "../../src/observability/redaction.js"
import { EffectFailure } from "../../src/telegram/bot.js"

const TOKEN = "7001234567:AAHsecretPartOfTheToken_x-9"
const TOKEN_SECRET = "AAHsecretPartOfTheToken_x-9"
const WEBHOOK_SECRET = "webhook_Secret-51c2"
const DB_PASSWORD = "p@ss word/42"
const DATABASE_URL = `postgres://bot:${encodeURIComponent(DB_PASSWORD)}@db.internal:5432/bot`

/** A settings-shaped object; `cluster.secret` stands for a secret added to the config later. */
const settings = {
  telegram: { botToken: Option.some(Redacted.make(TOKEN)), webhookSecret: Option.some(Redacted.make(WEBHOOK_SECRET)) },
  database: { _tag: "Postgres", url: Redacted.make(DATABASE_URL) },
  cluster: { secret: Redacted.make("cluster-shared-secret-0f3e") },
  adminIds: [1, 2],
  payments: { secret: Option.none() }
}

const everySecretForm = [TOKEN, TOKEN_SECRET, WEBHOOK_SECRET, DB_PASSWORD, encodeURIComponent(DB_PASSWORD), "cluster-shared-secret-0f3e"]

const assertNoSecret = (text: string) => {
  for (const secret of everySecretForm) assert.notInclude(text, secret)
}

/** Runs `body` under the logger of `nodeEnv` with the settings' secrets known; returns what it printed. */
const printed = <A, E>(nodeEnv: "production" | "development", body: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const redactor = new SecretRedactor()
    redactor.cover(settings)
    const lines: Array<string> = []
    const log = console.log
    console.log = (...args: Array<unknown>) => lines.push(args.map(String).join(" "))
    yield* body.pipe(
      Effect.provide(loggingLayer({ nodeEnv, logLevel: LogLevel.All }, redactor)),
      Effect.ensuring(Effect.sync(() => (console.log = log))),
      Effect.ignore
    )
    return lines
  })

// What grammY raises when Telegram is unreachable or refuses a call, with what they carry.
const fetchFailure = Object.assign(
  new Error(`request to http://127.0.0.1:1/bot${TOKEN}/getMe failed, reason: connect ECONNREFUSED 127.0.0.1:1`),
  { name: "FetchError", code: "ECONNREFUSED" }
)
const httpError = new HttpError("Network request for 'getMe' failed!", fetchFailure)
const refusedWebhook = new GrammyError(
  "Call to 'setWebhook' failed!",
  { ok: false, error_code: 400, description: "Bad Request: bad webhook" },
  "setWebhook",
  { url: "https://bot.example/telegram/webhook", secret_token: WEBHOOK_SECRET }
)
const botError = new BotError(httpError, { api: new Api(TOKEN), update: { update_id: 1 } } as never)

const everyPath = Effect.gen(function*() {
  yield* Effect.logWarning("raw error objects", httpError, refusedWebhook, botError)
  yield* Effect.logError(`a message with the token ${TOKEN} and its part ${TOKEN_SECRET}`)
  yield* Effect.logInfo("annotated").pipe(Effect.annotateLogs({ url: DATABASE_URL, secret: WEBHOOK_SECRET }))
  yield* Effect.logError("a cause", Cause.fail(httpError))
  yield* Effect.logError("a defect", Cause.die(fetchFailure))
  yield* Effect.fail(botError).pipe(Effect.tapErrorCause((cause) => Effect.logError("failed", cause)))
})

describe("redaction", () => {
  it("finds every Redacted value in the settings, a secret added later included", () => {
    assert.sameMembers([...secretValuesIn(settings)], [TOKEN, WEBHOOK_SECRET, DATABASE_URL, "cluster-shared-secret-0f3e"])
  })

  it("knows the forms a secret is printed in: the token's secret part, a URL's password, encodings", () => {
    const forms = [TOKEN, DATABASE_URL].flatMap(printedFormsOf)
    for (const form of [TOKEN, TOKEN_SECRET, DB_PASSWORD, encodeURIComponent(DB_PASSWORD), DATABASE_URL]) {
      assert.include(forms, form)
    }
    assert.notInclude(printedFormsOf("7001234567:AAH"), "7001234567", "the bot id alone is public")
    assert.deepStrictEqual(printedFormsOf("abc"), [], "too short to hide without blanking ordinary words")
    const redactor = redactorOf([TOKEN, DATABASE_URL, `quote"back\\slash`])
    assert.strictEqual(redactor.redact(`a ${TOKEN} b ${TOKEN_SECRET} c`), "a <redacted> b <redacted> c")
    assert.strictEqual(redactor.redact(JSON.stringify({ s: `quote"back\\slash` })), `{"s":"<redacted>"}`)
  })

  for (const nodeEnv of ["production", "development"] as const) {
    it.effect(`the ${nodeEnv} logger prints no secret on any path: messages, annotations, causes, stacks, error objects`, () =>
      Effect.gen(function*() {
        const lines = yield* printed(nodeEnv, everyPath)
        assert.isAtLeast(lines.length, 6)
        const all = lines.join("\n")
        assertNoSecret(all)
        assert.include(all, "<redacted>")
        assert.include(all, "ECONNREFUSED", "the reason stays readable")
        if (nodeEnv === "production") for (const line of lines) JSON.parse(line)
        else assert.throws(() => JSON.parse(lines[0]!))
      }))
  }

  it.effect("an error is logged as its class and message, not as the object with its client and payload", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        errorSummary(botError),
        `BotError: HttpError in middleware: Network request for 'getMe' failed!; caused by HttpError: Network request for 'getMe' failed!; caused by FetchError: request to http://127.0.0.1:1/bot${TOKEN}/getMe failed, reason: connect ECONNREFUSED 127.0.0.1:1`
      )
      assert.strictEqual(errorSummary(refusedWebhook), "GrammyError: Call to 'setWebhook' failed! (400: Bad Request: bad webhook)")
      const refusedWrite = new SqlError({ message: "Failed to execute statement", cause: new Error("writes refused") })
      assert.strictEqual(
        errorSummary(new BotError(new EffectFailure(Cause.fail(refusedWrite)), {} as never)),
        "BotError: Error in middleware: SqlError: Failed to execute statement; caused by SqlError: Failed to execute statement; caused by Error: writes refused"
      )
      const unknown = yield* Effect.flip(Effect.tryPromise(() => Promise.reject(httpError)))
      assert.match(errorSummary(unknown), /^HttpError: .*; caused by FetchError: .*ECONNREFUSED/)
      const lines = yield* printed("production", logFailure(LogLevel.Error, "setWebhook failed; retrying", refusedWebhook))
      const line = JSON.parse(lines[0]!)
      assert.strictEqual(line.message, "setWebhook failed; retrying")
      assert.strictEqual(line.annotations.error, "GrammyError: Call to 'setWebhook' failed! (400: Bad Request: bad webhook)")
      assert.notInclude(lines[0]!, "secret_token")
    }))

  it.effect("the process's redactor learns the secrets when the settings resolve", () =>
    Effect.gen(function*() {
      const redactor = new SecretRedactor()
      const clusterSecret = "cluster-secret-of-the-redaction-test-0123"
      const resolved = yield* AppConfig.fromEnv({
        TELEGRAM_BOT_TOKEN: TOKEN,
        KIE_API_KEY: "kie-key-of-the-redaction-test",
        PAYMENTS_SECRET: "payments-secret-of-the-redaction-test",
        CLUSTER_SECRET: clusterSecret,
        DATABASE_URL
      })
      const config = withSecretsRedacted(Layer.succeed(AppConfig, resolved))
      assert.strictEqual(redactor.redact(TOKEN_SECRET), TOKEN_SECRET)
      yield* Effect.provide(AppConfig, config.pipe(Layer.provide(Layer.succeed(ProcessRedactor, redactor))))
      assert.strictEqual(redactor.redact(`${TOKEN_SECRET} ${DB_PASSWORD}`), "<redacted> <redacted>")
      // A secret the redactor was never told about by name (CLUSTER_SECRET came later) is hidden too.
      assert.strictEqual(redactor.redact(clusterSecret), "<redacted>")
    }))
})

describe("the guard on stdout and stderr", () => {
  const redactor = redactorOf([TOKEN])

  it("in production passes JSON lines (redacted) and turns anything else into one JSON line", () => {
    const logged = `{"message":"token ${TOKEN}","logLevel":"INFO"}\n`
    assert.strictEqual(guardedText(logged, "stdout", redactor, true), `{"message":"token <redacted>","logLevel":"INFO"}\n`)
    const foreign = `[ioredis] Unhandled error event: Error: connect ECONNREFUSED\n    at x (${TOKEN})\n`
    const wrapped = guardedText(foreign, "stderr", redactor, true)
    assert.strictEqual(wrapped.split("\n").length, 2)
    const line = JSON.parse(wrapped)
    assert.strictEqual(line.logLevel, "WARN")
    assert.deepStrictEqual(line.annotations, { stream: "stderr" })
    assert.strictEqual(line.message, "[ioredis] Unhandled error event: Error: connect ECONNREFUSED\n    at x (<redacted>)")
  })

  it("in development only redacts", () => {
    assert.strictEqual(guardedText(`plain ${TOKEN}\n`, "stdout", redactor, false), "plain <redacted>\n")
  })

  it.scoped("patches the streams' write while it lives and restores it after", () =>
    Effect.gen(function*() {
      const written: Array<unknown> = []
      const stream: WritableOutput = { write: ((chunk: unknown) => written.push(chunk) > 0) as WritableOutput["write"] }
      const original = stream.write
      yield* Effect.scoped(Layer.build(guardProcessOutput(redactor, true, { stdout: stream, stderr: stream })).pipe(
        Effect.tap(() => Effect.sync(() => stream.write(Buffer.from(`Warning: ${TOKEN}\n`))))
      ))
      assert.strictEqual(stream.write, original)
      assert.strictEqual(JSON.parse(String(written[0])).message, "Warning: <redacted>")
    }))
})
