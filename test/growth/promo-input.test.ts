import { assert, describe, it } from "@effect/vitest"
import { parseExpiry, parsePromo } from "../../src/growth/promo-input.js"

const now = Date.parse("2026-12-01T10:00:00Z")

describe("/promo_new arguments", () => {
  it("reads a code (upper-cased), credits, max uses and an optional expiry", () => {
    assert.deepStrictEqual(parsePromo("spring-25 3 100", now), {
      _tag: "Promo", code: "SPRING-25" as never, credits: 3, maxUses: 100, expiresAtMs: undefined
    })
    assert.deepStrictEqual(parsePromo("  A_B  1   1  2026-12-31 ", now), {
      _tag: "Promo", code: "A_B" as never, credits: 1, maxUses: 1, expiresAtMs: Date.parse("2027-01-01T00:00:00Z")
    })
  })

  it("says what is wrong with each bad input", () => {
    assert.strictEqual(parsePromo("", now)._tag, "Usage")
    assert.strictEqual(parsePromo("CODE 1", now)._tag, "Usage")
    assert.strictEqual(parsePromo("CODE 1 2 3d extra", now)._tag, "Usage")
    assert.strictEqual(parsePromo("CODE one 2", now)._tag, "Usage")
    assert.strictEqual(parsePromo("CODE -1 2", now)._tag, "Usage")
    assert.deepStrictEqual(parsePromo("AB 1 1", now), { _tag: "BadCode", raw: "AB" })
    assert.deepStrictEqual(parsePromo("ÄRGER 1 1", now), { _tag: "BadCode", raw: "ÄRGER" })
    assert.deepStrictEqual(parsePromo(`${"X".repeat(33)} 1 1`, now), { _tag: "BadCode", raw: "X".repeat(33) })
    assert.strictEqual(parsePromo("CODE 0 1", now)._tag, "OutOfRange")
    assert.strictEqual(parsePromo("CODE 1001 1", now)._tag, "OutOfRange")
    assert.strictEqual(parsePromo("CODE 1 0", now)._tag, "OutOfRange")
    assert.strictEqual(parsePromo("CODE 1 1000001", now)._tag, "OutOfRange")
    assert.strictEqual(parsePromo("CODE 1 9999999999", now)._tag, "Usage")
    assert.deepStrictEqual(parsePromo("CODE 1 1 tomorrow", now), { _tag: "BadExpiry", raw: "tomorrow" })
    assert.strictEqual(parsePromo("CODE 1 1 2026-12-01", now)._tag, "Promo")
    assert.strictEqual(parsePromo("CODE 1 1 2026-11-30", now)._tag, "ExpiryPast")
    assert.strictEqual(parsePromo("CODE 1 1 2026-12-01T09:59", now)._tag, "ExpiryPast")
  })

  it("reads expiries as a UTC day (through its end), a UTC minute or a span from now", () => {
    assert.strictEqual(parseExpiry("7d", now), now + 7 * 86_400_000)
    assert.strictEqual(parseExpiry("12h", now), now + 12 * 3_600_000)
    assert.strictEqual(parseExpiry("2026-12-31T18:30", now), Date.parse("2026-12-31T18:30:00Z"))
    assert.strictEqual(parseExpiry("2028-02-29", now), Date.parse("2028-03-01T00:00:00Z"))
    for (const bad of ["0d", "2d3h", "2027-02-29", "2026-13-01", "2026-02-31", "2026-12-31T25:00", "2026-12-31T10:60", "31.12.2026", ""]) {
      assert.strictEqual(parseExpiry(bad, now), undefined, bad)
    }
  })
})
