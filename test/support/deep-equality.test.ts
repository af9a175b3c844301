/**
 * The suite's `assert.deepStrictEqual` (chai's, set up in test/setup.ts) tells Effect's data
 * types apart (chai alone took None and Some(x) for equal, so an assertion on an Option
 * asserted nothing), and still finds equal ones equal (a HashSet, whose members are found by
 * their hashes).
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Either, Exit, HashSet, Option, Schema } from "effect"

class Pair extends Data.Class<{ readonly a: number; readonly b: ReadonlyArray<number> }> {}
class Refused extends Schema.TaggedError<Refused>()("Refused", { reason: Schema.String }) {}

describe("assert.deepStrictEqual", () => {
  it("tells None from Some and compares what a Some holds", () => {
    assert.throws(() => assert.deepStrictEqual(Option.some(1), Option.none()))
    assert.throws(() => assert.deepStrictEqual({ found: Option.none() }, { found: Option.some("x") }))
    assert.throws(() => assert.deepStrictEqual(Option.some({ a: [1, 2] }), Option.some({ a: [1, 3] })))
    assert.deepStrictEqual(Option.some({ a: [1, 2] }), Option.some({ a: [1, 2] }))
    assert.deepStrictEqual([Option.none(), Option.some(new Pair({ a: 1, b: [2] }))], [Option.none(), Option.some(new Pair({ a: 1, b: [2] }))])
    assert.notDeepEqual(Option.some(1), Option.none())
  })

  it("tells tagged errors apart by their fields, and finds equal sets equal", () => {
    assert.throws(() => assert.deepStrictEqual(new Refused({ reason: "a" }), new Refused({ reason: "b" })))
    assert.deepStrictEqual(new Refused({ reason: "a" }), new Refused({ reason: "a" }))
    assert.deepStrictEqual(HashSet.make(1, 2, 3), HashSet.make(3, 2, 1))
    assert.throws(() => assert.deepStrictEqual(HashSet.make(1, 2, 3), HashSet.make(1, 2)))
    // Inside another value too (a Cause holds HashSets).
    assert.deepStrictEqual(Option.some({ s: HashSet.make(1, 2) }), Option.some({ s: HashSet.make(2, 1) }))
    assert.deepStrictEqual(Exit.fail({ code: 1 }), Exit.fail({ code: 1 }))
    assert.throws(() => assert.deepStrictEqual(Exit.fail({ code: 1 }), Exit.fail({ code: 2 })))
  })

  it("compares Effect's other data types by their Equal", () => {
    assert.throws(() => assert.deepStrictEqual<Either.Either<number, number>>(Either.right(1), Either.left(1)))
    assert.throws(() => assert.deepStrictEqual(new Pair({ a: 1, b: [2] }), new Pair({ a: 1, b: [3] })))
    assert.deepStrictEqual(Either.right({ a: 1 }), Either.right({ a: 1 }))
  })
})
