import { addEqualityTesters } from "@effect/vitest"
import { Equal, Utils } from "effect"
import { chai } from "vitest"

// `expect(…).toEqual` compares Effect's data types with their own Equal.
addEqualityTesters()

// `assert.deepStrictEqual` is chai's, whose deep equality walks an Option as an iterable (it
// yields one opaque wrapper), so it took None and Some(x) for equal. Values that implement
// Equal are compared with it; what they hold, when Equal does not know it, by chai's rules.
const bothEqual = (left: unknown, right: unknown) => Equal.isEqual(left) && Equal.isEqual(right)
const deepEqual = (expected: unknown, actual: unknown): boolean =>
  chai.util.eql(expected, actual, {
    comparator: (left: unknown, right: unknown) =>
      bothEqual(left, right) ? Utils.structuralRegion(() => Equal.equals(left, right), heldValues) : null
  })
// Called by Equal for what it cannot decide itself; two Equal values it has already refused.
const heldValues = (left: unknown, right: unknown): boolean => !bothEqual(left, right) && deepEqual(left, right)
chai.config.deepEqual = deepEqual
