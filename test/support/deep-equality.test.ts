/**
 * The suite's `assert.deepStrictEqual` (chai's, set up in test/setup.ts) tells Effect's data
 * types apart: chai alone took None and Some(x) for equal, so an assertion on an Option
 * asserted nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Either, Option } from "effect"

class Pair extends Data.Class<{ readonly a: number; readonly b: ReadonlyArray<number> }> {}

describe("assert.deepStrictEqual", () => {
  it("tells None from Some and compares what a Some holds", () => {
    assert.throws(() => assert.deepStrictEqual(Option.some(1), Option.none()))
    assert.throws(() => assert.deepStrictEqual({ found: Option.none() }, { found: Option.some("x") }))
    assert.throws(() => assert.deepStrictEqual(Option.some({ a: [1, 2] }), Option.some({ a: [1, 3] })))
    assert.deepStrictEqual(Option.some({ a: [1, 2] }), Option.some({ a: [1, 2] }))
    assert.deepStrictEqual([Option.none(), Option.some(new Pair({ a: 1, b: [2] }))], [Option.none(), Option.some(new Pair({ a: 1, b: [2] }))])
    assert.notDeepEqual(Option.some(1), Option.none())
  })

  it("compares Effect's other data types by their Equal", () => {
    assert.throws(() => assert.deepStrictEqual<Either.Either<number, number>>(Either.right(1), Either.left(1)))
    assert.throws(() => assert.deepStrictEqual(new Pair({ a: 1, b: [2] }), new Pair({ a: 1, b: [3] })))
    assert.deepStrictEqual(Either.right({ a: 1 }), Either.right({ a: 1 }))
  })
})
