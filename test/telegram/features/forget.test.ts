import { assert, describe, it } from "@effect/vitest"
import { parseCallbackData, supportCallbackData } from "../../../src/telegram/callback-data.js"
import { parseForget } from "../../../src/telegram/features/forget.js"

describe("/forget's argument", () => {
  it("is one positive Telegram user id; anything else is refused", () => {
    assert.strictEqual(parseForget("12345"), 12345)
    assert.strictEqual(parseForget("  12345 "), 12345)
    for (const bad of ["", "abc", "-5", "0", "12 13", "1.5", "1e5", "99999999999999999999", "@ann"]) {
      assert.isUndefined(parseForget(bad), bad)
    }
  })

  it("the support buttons' data round-trips, and forged data is unknown", () => {
    assert.deepStrictEqual(parseCallbackData(supportCallbackData("open")), { _tag: "Support", action: "open" })
    assert.deepStrictEqual(parseCallbackData(supportCallbackData("cancel")), { _tag: "Support", action: "cancel" })
    for (const forged of ["support:", "support:delete", "support:open:1"]) assert.deepStrictEqual(parseCallbackData(forged), { _tag: "Unknown" })
  })
})
