import { assert, describe, it } from "@effect/vitest"
import { type Config, ConfigProvider, Effect, Either, Option, Redacted } from "effect"
import { describeConfigError } from "../../src/config/index.js"
import {
  commaSeparated,
  durationIn,
  httpUrl,
  integerIn,
  literal,
  longDurationIn,
  optionalDurationIn,
  optionalHttpUrl,
  optionalRedacted,
  parseDuration,
  parseLongDuration
} from "../../src/config/parsers.js"

/** The value `config` reads from `env` alone, or the one line its error is reported as. */
const read = <A>(config: Config.Config<A>, env: Record<string, string> = {}) =>
  config.pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.either,
    Effect.map(Either.mapLeft(describeConfigError))
  )

const refusal = <A>(config: Config.Config<A>, env: Record<string, string>) =>
  Effect.map(read(config, env), Either.match({ onLeft: (line) => line, onRight: () => "accepted" }))

describe("configuration parsers", () => {
  it.effect("integerIn takes whole numbers within its bounds, its fallback when unset", () =>
    Effect.gen(function*() {
      const port = integerIn("PORT_X", 1, 10, 5)
      assert.deepStrictEqual(yield* read(port), Either.right(5))
      assert.deepStrictEqual(yield* read(port, { PORT_X: " 10 " }), Either.right(10))
      for (const bad of ["0", "11", "2.5", "abc", ""]) {
        assert.strictEqual(
          yield* refusal(port, { PORT_X: bad }),
          `Invalid configuration: PORT_X must be a whole number from 1 to 10, got "${bad}"`
        )
      }
    }))

  it("parseDuration reads ms, s, m and bare seconds; parseLongDuration minutes, hours and days", () => {
    assert.strictEqual(parseDuration("500ms"), 500)
    assert.strictEqual(parseDuration(" 1.5s "), 1_500)
    assert.strictEqual(parseDuration("2m"), 120_000)
    assert.strictEqual(parseDuration("3"), 3_000)
    assert.strictEqual(parseDuration("1h"), undefined)
    assert.strictEqual(parseDuration("-1s"), undefined)
    assert.strictEqual(parseLongDuration("90 minutes"), 90 * 60_000)
    assert.strictEqual(parseLongDuration("2 Days"), 2 * 86_400_000)
    assert.strictEqual(parseLongDuration("12h"), 12 * 3_600_000)
    assert.strictEqual(parseLongDuration("12"), undefined)
  })

  it.effect("durations outside their range are refused with the range and an example", () =>
    Effect.gen(function*() {
      const short = durationIn("SHORT_X", 500, 60_000, "2s")
      assert.deepStrictEqual(yield* read(short), Either.right(2_000))
      assert.strictEqual(
        yield* refusal(short, { SHORT_X: "2m" }),
        `Invalid configuration: SHORT_X must be a duration from 500 ms to 60 s, like 6s or 500ms, got "2m"`
      )
      const long = longDurationIn("LONG_X", 3_600_000, 86_400_000, "3h", "1 hour to 1 day")
      assert.deepStrictEqual(yield* read(long, { LONG_X: "1 day" }), Either.right(86_400_000))
      assert.strictEqual(
        yield* refusal(long, { LONG_X: "2 days" }),
        `Invalid configuration: LONG_X must be a duration from 1 hour to 1 day, like "3 days" or 12h, got "2 days"`
      )
    }))

  it.effect("an optional setting that is unset or blank is none; a bad one is still refused", () =>
    Effect.gen(function*() {
      const grace = optionalDurationIn("GRACE_X", 0, 10_000, "a duration up to 10 s")
      assert.deepStrictEqual(yield* read(grace), Either.right(Option.none()))
      assert.deepStrictEqual(yield* read(grace, { GRACE_X: "  " }), Either.right(Option.none()))
      assert.deepStrictEqual(yield* read(grace, { GRACE_X: "2s" }), Either.right(Option.some(2_000)))
      assert.strictEqual(
        yield* refusal(grace, { GRACE_X: "1m" }),
        `Invalid configuration: GRACE_X must be a duration up to 10 s, got "1m"`
      )
    }))

  it.effect("URLs are http(s), trimmed, without trailing slashes", () =>
    Effect.gen(function*() {
      const root = httpUrl("ROOT_X", "https://example.org/")
      assert.deepStrictEqual(yield* read(root), Either.right("https://example.org"))
      assert.deepStrictEqual(yield* read(root, { ROOT_X: " http://127.0.0.1:9/api// " }), Either.right("http://127.0.0.1:9/api"))
      for (const bad of ["ftp://example.org", "example.org", "http://"]) {
        assert.strictEqual(yield* refusal(root, { ROOT_X: bad }), `Invalid configuration: ROOT_X must be an http(s):// URL, got "${bad}"`)
      }
      assert.deepStrictEqual(yield* read(optionalHttpUrl("ROOT_X"), { ROOT_X: "" }), Either.right(Option.none()))
    }))

  it.effect("a secret's refusal names the variable and never echoes the value; blank is unset", () =>
    Effect.gen(function*() {
      const secret = optionalRedacted("SECRET_X", (value) => value.length < 8 ? "at least 8 characters" : undefined)
      assert.strictEqual(yield* refusal(secret, { SECRET_X: "hunter2" }), "Invalid configuration: SECRET_X must be at least 8 characters")
      assert.deepStrictEqual(yield* read(secret, { SECRET_X: " " }), Either.right(Option.none()))
      const accepted = yield* read(secret, { SECRET_X: "correct-horse" })
      assert.isTrue(Either.isRight(accepted) && Option.isSome(accepted.right) && Redacted.isRedacted(accepted.right.value))
    }))

  it.effect("literal takes exactly one of its values; commaSeparated drops blanks", () =>
    Effect.gen(function*() {
      const mode = literal("MODE_X", ["polling", "webhook"], "polling")
      assert.deepStrictEqual(yield* read(mode, { MODE_X: "webhook" }), Either.right("webhook" as const))
      assert.strictEqual(
        yield* refusal(mode, { MODE_X: "Webhook" }),
        `Invalid configuration: MODE_X must be one of polling, webhook, got "Webhook"`
      )
      assert.deepStrictEqual(commaSeparated(" a, ,b ,"), ["a", "b"])
    }))
})
