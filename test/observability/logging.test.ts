import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, LogLevel, Redacted } from "effect"
import { loggingLayer } from "../../src/observability/logging.js"
import { observabilitySettings } from "../../src/observability/settings.js"

const settingsFrom = (env: Record<string, string>) =>
  observabilitySettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

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
})
