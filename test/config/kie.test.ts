import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either } from "effect"
import { appSettings, describeConfigError } from "../../src/config/index.js"

const read = (env: Record<string, string>) =>
  appSettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))), Effect.either)

describe("KIE configuration", () => {
  it.effect("defaults to the catalog's default model and KIE's 20 requests per 10 s", () =>
    Effect.gen(function*() {
      const settings = yield* read({})
      expect(Either.isRight(settings)).toBe(true)
      if (Either.isRight(settings)) {
        expect(settings.right.kie.model).toBe("kling-2.6/image-to-video")
        expect(settings.right.kie.rateLimit).toBe(20)
      }
    }))

  it.effect("refuses an unknown KIE_MODEL with one line naming the choices", () =>
    Effect.gen(function*() {
      const settings = yield* read({ KIE_MODEL: "kling-9/video" })
      expect(Either.isLeft(settings)).toBe(true)
      if (Either.isLeft(settings)) {
        const line = describeConfigError(settings.left)
        expect(line).toContain(`KIE_MODEL must be one of kling-2.6/image-to-video, wan/2-5-image-to-video`)
        expect(line).toContain(`got "kling-9/video"`)
        expect(line.split("\n")).toHaveLength(1)
      }
    }))

  it.effect("refuses a KIE_RATE_LIMIT below 3, the smallest limit a bucket can keep under", () =>
    Effect.gen(function*() {
      const settings = yield* read({ KIE_RATE_LIMIT: "0" })
      expect(Either.isLeft(settings) && describeConfigError(settings.left)).toContain("KIE_RATE_LIMIT must be a whole number from 3 to 1000")
    }))
})
