import { addEqualityTesters } from "@effect/vitest"
import { Equal, Utils } from "effect"
import { chai } from "vitest"

// `expect(…).toEqual` compares Effect's data types with their own Equal.
addEqualityTesters()

// `assert.deepStrictEqual` is chai's, whose deep equality walks an Option as an iterable (it
// yields one opaque wrapper), so it took None and Some(x) for equal. Values that implement
// Equal are compared with it: as they are first (a HashSet finds its members by their
// hashes, which a structural region sets to 0), then structurally, so that a Some holding a
// plain object equals another holding the same fields; what Equal cannot decide itself
// follows chai's rules.
const bothEqual = (left: unknown, right: unknown) => Equal.isEqual(left) && Equal.isEqual(right)
/** Equal outside any structural region, also when called from inside one (a nested value). */
const asTheyAre = (left: unknown, right: unknown) => {
  const region = Utils.structuralRegionState
  const { enabled, tester } = region
  region.enabled = false
  region.tester = undefined
  try {
    return Equal.equals(left, right)
  } finally {
    region.enabled = enabled
    region.tester = tester
  }
}
const deepEqual = (expected: unknown, actual: unknown): boolean =>
  chai.util.eql(expected, actual, {
    comparator: (left: unknown, right: unknown) =>
      bothEqual(left, right)
        ? asTheyAre(left, right) || Utils.structuralRegion(() => Equal.equals(left, right), heldValues)
        : null
  })
// Called by Equal for what it cannot decide; two Equal values go through the comparator again.
const heldValues = (left: unknown, right: unknown): boolean =>
  bothEqual(left, right) ? asTheyAre(left, right) : deepEqual(left, right)
chai.config.deepEqual = deepEqual
