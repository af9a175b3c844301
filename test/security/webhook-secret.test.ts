import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option, Redacted } from "effect"
import { AppConfig, describeConfigError } from "../../src/config/index.js"

const webhookEnv = (secret: string) => ({
  TELEGRAM_MODE: "webhook",
  PUBLIC_URL: "https://bot.example",
  TELEGRAM_WEBHOOK_SECRET: secret
})

describe("TELEGRAM_WEBHOOK_SECRET", () => {
  it.effect("is checked at start-up as Telegram checks secret_token, and the refusal does not echo it", () =>
    Effect.gen(function*() {
      for (const bad of ["has space-9f2a", "colon:9f2a7c", "ünïcode-9f2a", "x".repeat(257)]) {
        const result = yield* Effect.either(AppConfig.fromEnv(webhookEnv(bad)))
        assert.isTrue(Either.isLeft(result), bad)
        if (Either.isLeft(result)) {
          const line = describeConfigError(result.left)
          assert.include(line, "TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -")
          assert.notInclude(line, bad)
        }
      }
      for (const good of ["a", "Az09_-", "y".repeat(256)]) {
        const settings = yield* AppConfig.fromEnv(webhookEnv(good))
        assert.strictEqual(Option.map(settings.telegram.webhookSecret, Redacted.value).pipe(Option.getOrNull), good)
      }
    }))
})
