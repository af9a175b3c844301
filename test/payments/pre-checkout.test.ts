import { assert, describe, it } from "@effect/vitest"
import { Either, Redacted } from "effect"
import { decodePayload, encodePayload, newNonce } from "../../src/payments/invoice-payload.js"
import { decidePreCheckout, type Refusal } from "../../src/payments/packages.js"

const secret = Redacted.make("test-payments-secret")
const packages = [{ credits: 5, stars: 250 }, { credits: 20, stars: 900 }, { credits: 50, stars: 2000 }]
const payloadFor = (credits: number, stars: number, userId = 1001, key = secret) =>
  encodePayload(key, { credits, stars, userId, nonce: newNonce() })
const query = (invoicePayload: string, overrides: Partial<{ fromUserId: number; currency: string; totalAmount: number }> = {}) => ({
  fromUserId: 1001,
  currency: "XTR",
  totalAmount: Number(invoicePayload.split(".")[2]),
  invoicePayload,
  ...overrides
})

describe("invoice payload", () => {
  it("round-trips, fits Telegram's 128 bytes, and differs per invoice", () => {
    const payload = { credits: 50, stars: 2000, userId: 9_999_999_999, nonce: newNonce() }
    const encoded = encodePayload(secret, payload)
    assert.isAtMost(Buffer.byteLength(encoded), 128)
    assert.deepStrictEqual(decodePayload(secret, encoded), Either.right(payload))
    assert.notStrictEqual(payloadFor(5, 250), payloadFor(5, 250))
  })

  it("refuses any edited field, another secret, and garbage", () => {
    const encoded = payloadFor(50, 2000)
    const parts = encoded.split(".")
    const edit = (index: number, value: string) => parts.map((part, i) => (i === index ? value : part)).join(".")
    for (const forged of [edit(1, "500"), edit(2, "1"), edit(3, "1002"), edit(4, "AAAAAAAAAAA"), edit(5, "x".repeat(22))]) {
      assert.deepStrictEqual(decodePayload(secret, forged), Either.left("bad-signature"), forged)
    }
    assert.deepStrictEqual(decodePayload(Redacted.make("another"), encoded), Either.left("bad-signature"))
    for (const garbage of ["", "v1.5.250", "v2.5.250.1001.abc.def", "v1.-5.250.1001.abc.def", `${encoded}.x`]) {
      assert.deepStrictEqual(decodePayload(secret, garbage), Either.left("malformed"), garbage)
    }
  })
})

describe("pre-checkout decision", () => {
  it("says yes to a signed invoice for a package on sale, paid in Stars at its price, by its user", () => {
    const decision = decidePreCheckout(query(payloadFor(20, 900)), packages, secret)
    assert.isTrue(decision.ok)
    if (decision.ok) assert.deepStrictEqual([decision.payload.credits, decision.payload.stars], [20, 900])
  })

  it("names the reason for every refusal", () => {
    const cases: ReadonlyArray<[Refusal, ReturnType<typeof query>]> = [
      ["invalid-invoice", query(payloadFor(20, 900, 1001, Redacted.make("forger")))],
      ["invalid-invoice", query(payloadFor(50, 2000).replace(".50.2000.", ".50.250."), { totalAmount: 250 })],
      ["not-your-invoice", query(payloadFor(20, 900), { fromUserId: 1002 })],
      ["wrong-currency", query(payloadFor(20, 900), { currency: "USD" })],
      ["wrong-amount", query(payloadFor(20, 900), { totalAmount: 250 })],
      ["package-gone", query(payloadFor(10, 400))],
      ["price-changed", query(payloadFor(20, 800))]
    ]
    for (const [refusal, input] of cases) {
      assert.deepStrictEqual(decidePreCheckout(input, packages, secret), { ok: false, refusal }, refusal)
    }
  })
})
