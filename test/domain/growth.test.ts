import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import { inviteCodeOf, inviterOf, promoCodeOf, promoCodeOfStart, promoStartParameter } from "../../src/domain/growth.js"
import { UserId } from "../../src/domain/ids.js"

describe("invitation and promo codes", () => {
  it("an invitation code names its inviter and fits a start parameter", () => {
    for (const id of [1, 7201, 2_147_483_647, 9_007_199_254_740_991]) {
      const code = inviteCodeOf(UserId.make(id))
      assert.match(code, /^[A-Za-z0-9_-]{1,64}$/)
      assert.deepStrictEqual(inviterOf(code), Option.some(UserId.make(id)))
    }
    for (const other of ["", "ref_", "ref_0", "ref_ABC", "promo_X", "ref_zzzzzzzzzzzzz", "hello"]) {
      assert.isTrue(Option.isNone(inviterOf(other)), other)
    }
  })

  it("a promo code is case-insensitive, from a command or a start parameter", () => {
    assert.deepStrictEqual(promoCodeOf(" spring25 "), Option.some("SPRING25" as never))
    assert.isTrue(Option.isNone(promoCodeOf("no spaces")))
    assert.deepStrictEqual(promoCodeOfStart("promo_Spring25"), Option.some("SPRING25" as never))
    assert.isTrue(Option.isNone(promoCodeOfStart("ref_abc")))
    const code = Option.getOrThrow(promoCodeOf("A-B_C"))
    assert.deepStrictEqual(promoCodeOfStart(promoStartParameter(code)), Option.some(code))
  })
})
