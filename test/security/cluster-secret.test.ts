/**
 * CLUSTER_SECRET at start-up: required in cluster mode with a bot token, at least 32
 * characters, never echoed; a sandbox on Postgres without one gets the published sandbox
 * secret (src/sim/sandbox.ts). The transport it keys is tested on a real runner in
 * runner-port.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Either, Layer, Option, Redacted } from "effect"
import { AppConfig, describeConfigError } from "../../src/config/index.js"
import { derivePsk } from "../../src/cluster/transport.js"
import { AppConfigWithSandbox, SANDBOX_CLUSTER_SECRET } from "../../src/sim/sandbox.js"

const POSTGRES = "postgres://127.0.0.1:5432/never_connected"
const TOKEN = "123456:secret-part-of-the-token"
const SECRET = "a-cluster-secret-of-exactly-32-c"
/** What a real bot token needs besides (src/config/): its KIE key and its payments secret. */
const REAL = { TELEGRAM_BOT_TOKEN: TOKEN, KIE_API_KEY: "kie-key-of-the-test", PAYMENTS_SECRET: "payments-secret-of-the-test" }

/** The start-up line for `env`, or "accepted". */
const configError = (env: Record<string, string>) =>
  Effect.map(Effect.either(AppConfig.fromEnv(env)), Either.match({ onLeft: describeConfigError, onRight: () => "accepted" }))

describe("CLUSTER_SECRET", () => {
  it.effect("is required in cluster mode with a bot token, as one line naming it", () =>
    Effect.gen(function*() {
      const line = yield* configError({ DATABASE_URL: POSTGRES, ...REAL })
      assert.match(line, /^Invalid configuration: CLUSTER_SECRET must be set in cluster mode \(DATABASE_URL=postgres:\/\/…\) with a TELEGRAM_BOT_TOKEN/)
      assert.notInclude(line, TOKEN)

      const settings = yield* AppConfig.fromEnv({ DATABASE_URL: POSTGRES, ...REAL, CLUSTER_SECRET: SECRET })
      assert.strictEqual(Option.map(settings.clusterSecret, Redacted.value).pipe(Option.getOrNull), SECRET)
      // Embedded mode opens no runner port; without a token the sandbox supplies one (below).
      assert.isTrue(Option.isNone((yield* AppConfig.fromEnv({ ...REAL })).clusterSecret))
      assert.strictEqual(yield* configError({ DATABASE_URL: POSTGRES }), "accepted")
    }))

  it.effect("shorter than 32 characters is refused without echoing it", () =>
    Effect.gen(function*() {
      const short = SECRET.slice(0, 31)
      const line = yield* configError({ DATABASE_URL: POSTGRES, ...REAL, CLUSTER_SECRET: short })
      assert.strictEqual(line, "Invalid configuration: CLUSTER_SECRET must be at least 32 characters (e.g. openssl rand -base64 32), got 31")
    }))

  it.scoped("a sandbox on Postgres without one uses the published sandbox secret; a configured one wins", () =>
    Effect.gen(function*() {
      const sandboxSecret = (env: Record<string, string>) =>
        Effect.map(
          Layer.build(AppConfigWithSandbox.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))),
          (context) => Option.map(Context.get(context, AppConfig).clusterSecret, Redacted.value)
        )
      assert.deepStrictEqual(yield* sandboxSecret({ DATABASE_URL: POSTGRES }), Option.some(Redacted.value(SANDBOX_CLUSTER_SECRET)))
      assert.deepStrictEqual(yield* sandboxSecret({ DATABASE_URL: POSTGRES, CLUSTER_SECRET: SECRET }), Option.some(SECRET))
    }))

  it("keys the handshake with a 32-byte key that depends on every character of the secret", () => {
    const key = derivePsk(Redacted.make(SECRET))
    assert.strictEqual(key.length, 32)
    assert.isTrue(key.equals(derivePsk(Redacted.make(SECRET))))
    assert.isFalse(key.equals(derivePsk(Redacted.make(`${SECRET.slice(0, 31)}C`))))
    assert.notInclude(key.toString("latin1"), SECRET)
  })
})
