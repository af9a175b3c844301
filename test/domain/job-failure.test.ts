import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeJobFailure, encodeJobFailure, type JobFailure } from "../../src/domain/job-failure.js"

describe("a job's stored failure", () => {
  const failures: ReadonlyArray<JobFailure> = [
    { _tag: "KieUserError", reason: "ContentPolicy" },
    { _tag: "KieTransientError", reason: "ServerBusy" },
    { _tag: "KieOperatorError", reason: "Paused" },
    { _tag: "KieUnknownError", reason: "GenerationFailed" },
    { _tag: "Deadline" },
    { _tag: "PhotoUnavailable", reason: "TooBig" },
    { _tag: "DeliveryFailed", reason: "BlockedByUser" },
    { _tag: "Cancelled" },
    { _tag: "InternalError" }
  ]

  it.each(failures)("$_tag survives its two columns", (failure) => {
    expect(Either.getOrThrow(decodeJobFailure(encodeJobFailure(failure)))).toEqual(failure)
  })

  it("refuses a class it does not know, instead of calling it another", () => {
    const decoded = decodeJobFailure({ error_class: "KieBrandNewError", error_detail: "Whatever" })
    expect(Either.isLeft(decoded)).toBe(true)
    if (Either.isLeft(decoded)) expect(decoded.left.message).toContain(`not a known job failure: class "KieBrandNewError"`)
  })

  it("refuses a class that needs a reason without one", () => {
    expect(Either.isLeft(decodeJobFailure({ error_class: "KieUserError", error_detail: null }))).toBe(true)
  })
})
