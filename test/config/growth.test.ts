import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either } from "effect"
import { appSettings, describeConfigError } from "../../src/config/index.js"

const read = (env: Record<string, string>) =>
  appSettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))), Effect.either)

const refusal = (env: Record<string, string>) =>
  Effect.map(read(env), (settings) => Either.isLeft(settings) ? describeConfigError(settings.left) : "accepted")

describe("invitation configuration", () => {
  it.effect("defaults: 2 credits on the first purchase, at most 10 a day; 0 turns the bonus off", () =>
    Effect.gen(function*() {
      const defaults = yield* read({})
      expect(Either.isRight(defaults) && defaults.right.referral).toEqual({ bonus: 2, trigger: "purchase", dailyCap: 10 })
      const set = yield* read({ REFERRAL_BONUS: "0", REFERRAL_TRIGGER: "delivered", REFERRAL_DAILY_CAP: "3" })
      expect(Either.isRight(set) && set.right.referral).toEqual({ bonus: 0, trigger: "delivered", dailyCap: 3 })
    }))

  it.effect("refuses bad values with a line naming the variable and what it takes", () =>
    Effect.gen(function*() {
      expect(yield* refusal({ REFERRAL_TRIGGER: "signup" })).toContain(`REFERRAL_TRIGGER must be one of purchase, delivered, got "signup"`)
      expect(yield* refusal({ REFERRAL_BONUS: "-1" })).toContain("REFERRAL_BONUS must be a whole number from 0 to 1000")
      expect(yield* refusal({ REFERRAL_DAILY_CAP: "0" })).toContain("REFERRAL_DAILY_CAP must be a whole number from 1 to 10000")
    }))
})
