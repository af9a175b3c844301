import { describe, expect, it } from "@effect/vitest"
import { Duration } from "effect"
import { bucketFor } from "../../src/rate-limits/token-bucket.js"

describe("token bucket sizing", () => {
  it("sizes the bucket so that burst plus refills stay below the limit in any span", () => {
    expect(bucketFor(20, Duration.seconds(10))).toMatchObject({ burst: 2, sustained: 17 })
    expect(Duration.toMillis(bucketFor(20, Duration.seconds(10)).step)).toBeCloseTo(10_000 / 17)
    for (const limit of [3, 5, 10, 20, 50, 100]) {
      const { burst, sustained } = bucketFor(limit, Duration.seconds(10))
      expect(burst + sustained).toBeLessThanOrEqual(limit - 1)
      expect(burst).toBeGreaterThanOrEqual(1)
    }
  })
})
