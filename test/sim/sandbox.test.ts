/**
 * The sandbox is all or nothing: the configuration layer `npm start` uses
 * (AppConfigWithSandbox) starts the simulators only when neither credential is set, and
 * refuses a real bot token without KIE_API_KEY or PAYMENTS_SECRET, naming what is missing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigError, ConfigProvider, Context, Effect, Exit, Layer, Option, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppConfig, describeConfigError } from "../../src/config/index.js"
import { AppConfigWithSandbox } from "../../src/sim/sandbox.js"

const withDataDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bot-sandbox-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Builds the layer against `env` alone; the settings, or the one line main would print. */
const startWith = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const dataDir = yield* withDataDir
    const provider = ConfigProvider.fromMap(new Map(Object.entries({ DATA_DIR: dataDir, ...env })))
    const exit = yield* Layer.build(AppConfigWithSandbox).pipe(Effect.withConfigProvider(provider), Effect.exit)
    return Exit.match(exit, {
      onFailure: (cause) => {
        const error = Option.getOrUndefined(Cause.failureOption(cause))
        return { _tag: "Refused" as const, line: ConfigError.isConfigError(error) ? describeConfigError(error) : String(cause) }
      },
      onSuccess: (context) => ({ _tag: "Started" as const, settings: Context.get(context, AppConfig) })
    })
  })

// A token shaped like a real one and a closed loopback port: nothing here may reach Telegram.
const realToken = "123456789:AAH-real-looking-token-for-tests-0123456"
const closedApiRoot = "http://127.0.0.1:9"

describe("sandbox or real credentials", () => {
  it.scoped("a real bot token without KIE_API_KEY is refused, naming KIE_API_KEY; no KIE simulator starts", () =>
    Effect.gen(function*() {
      const outcome = yield* startWith({ TELEGRAM_BOT_TOKEN: realToken, TELEGRAM_API_ROOT: closedApiRoot, PAYMENTS_SECRET: "s3cret" })
      expect(outcome._tag).toBe("Refused")
      if (outcome._tag === "Refused") {
        expect(outcome.line).toContain("KIE_API_KEY must be set when TELEGRAM_BOT_TOKEN is set")
        expect(outcome.line.split("\n")).toHaveLength(1)
      }
    }))

  it.scoped("a KIE key without a bot token is refused, naming TELEGRAM_BOT_TOKEN", () =>
    Effect.gen(function*() {
      const outcome = yield* startWith({ KIE_API_KEY: "kie-real-key" })
      expect(outcome._tag).toBe("Refused")
      if (outcome._tag === "Refused") expect(outcome.line).toContain("TELEGRAM_BOT_TOKEN must be set when KIE_API_KEY is set")
    }))

  it.scoped("a real bot token without PAYMENTS_SECRET is refused, naming it, in development too", () =>
    Effect.gen(function*() {
      const outcome = yield* startWith({ TELEGRAM_BOT_TOKEN: realToken, TELEGRAM_API_ROOT: closedApiRoot, KIE_API_KEY: "kie-real-key" })
      expect(outcome._tag).toBe("Refused")
      if (outcome._tag === "Refused") {
        expect(outcome.line).toContain("PAYMENTS_SECRET must be set when TELEGRAM_BOT_TOKEN is set")
        expect(outcome.line).not.toContain(realToken)
      }
      // Both problems at once are named in the same line.
      const both = yield* startWith({ TELEGRAM_BOT_TOKEN: realToken, TELEGRAM_API_ROOT: closedApiRoot })
      expect(both._tag === "Refused" && both.line).toMatch(/KIE_API_KEY must be set.*; PAYMENTS_SECRET must be set/)
    }))

  it.scoped("all three set: the settings are the environment's, no simulator is involved", () =>
    Effect.gen(function*() {
      const outcome = yield* startWith({
        TELEGRAM_BOT_TOKEN: realToken,
        TELEGRAM_API_ROOT: closedApiRoot,
        KIE_API_KEY: "kie-real-key",
        PAYMENTS_SECRET: "s3cret"
      })
      expect(outcome._tag).toBe("Started")
      if (outcome._tag === "Started") {
        expect(outcome.settings.telegram.apiRoot).toBe(closedApiRoot)
        expect(outcome.settings.kie.baseUrl).toBe("https://api.kie.ai")
        expect(Option.map(outcome.settings.kie.apiKey, Redacted.value)).toEqual(Option.some("kie-real-key"))
      }
    }))

  it.scoped("neither credential: both simulators start on loopback and the settings point at them", () =>
    Effect.gen(function*() {
      const outcome = yield* startWith({})
      expect(outcome._tag).toBe("Started")
      if (outcome._tag === "Started") {
        expect(outcome.settings.telegram.apiRoot).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        expect(outcome.settings.kie.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        expect(outcome.settings.kie.uploadBaseUrl).toBe(outcome.settings.kie.baseUrl)
        expect(Option.isSome(outcome.settings.telegram.botToken) && Option.isSome(outcome.settings.kie.apiKey)).toBe(true)
      }
    }))

  it.scoped("with NODE_ENV=production the sandbox is refused", () =>
    Effect.gen(function*() {
      const outcome = yield* startWith({ NODE_ENV: "production" })
      expect(outcome._tag === "Refused" && outcome.line).toContain("TELEGRAM_BOT_TOKEN and KIE_API_KEY must be set when NODE_ENV=production")
    }))
})
