import { describe, expect, it } from "@effect/vitest"
import type { KieError } from "../../src/errors/kie-errors.js"
import { classify, type KieObservation, redactRaw, taskVisibilityGrace } from "../../src/kie/classify.js"

type Row = readonly [name: string, observation: KieObservation, tag: KieError["_tag"], reason: string]

const answer = (
  operation: "createTask" | "recordInfo" | "upload" | "credits",
  code: number,
  msg: string,
  status = 200,
  extra: Partial<Extract<KieObservation, { _tag: "Answer" }>> = {}
): KieObservation => ({
  _tag: "Answer",
  operation,
  status,
  code,
  msg,
  raw: JSON.stringify({ code, msg, data: null }),
  ...extra
})

const failed = (failCode: string, failMsg: string): KieObservation => ({
  _tag: "TaskFailed",
  taskId: "task_1",
  failCode,
  failMsg,
  raw: JSON.stringify({ state: "fail", failCode, failMsg })
})

// KIE's error table, row by row: envelope codes first, then the failMsg keyword rules.
const rows: ReadonlyArray<Row> = [
  ["401 with HTTP 200", answer("createTask", 401, "You do not have access permissions"), "KieOperatorError", "BadApiKey"],
  ["401 live wording", answer("credits", 401, "Unauthorized – Authentication failed"), "KieOperatorError", "BadApiKey"],
  ["401 as HTTP status", answer("createTask", 401, "Unauthorized", 401), "KieOperatorError", "BadApiKey"],
  [
    "402 credits insufficient",
    answer("createTask", 402, "The current credits are insufficient. Please top up."),
    "KieOperatorError",
    "AccountOutOfCredits"
  ],
  ["402 short wording", answer("createTask", 402, "Credits insufficient"), "KieOperatorError", "AccountOutOfCredits"],
  [
    "433 key cap",
    answer("createTask", 433, "The current number of points used by apiKey has exceeded the daily limit"),
    "KieOperatorError",
    "KeyCapReached"
  ],
  ["404 wrong path", answer("createTask", 404, "Not Found"), "KieOperatorError", "NotFound"],
  [
    "422 unknown model",
    answer("createTask", 422, "The page does not exist or is not published"),
    "KieOperatorError",
    "UnknownModel"
  ],
  ["422 parameter validation", answer("createTask", 422, "duration is invalid"), "KieOperatorError", "InvalidRequest"],
  ["422 naming the user's prompt", answer("createTask", 422, "prompt is too long"), "KieUserError", "PromptRejected"],
  [
    "422 recordInfo is null right after creation",
    answer("recordInfo", 422, "recordInfo is null", 200, { taskAgeMillis: 2_000 }),
    "KieTransientError",
    "TaskNotYetVisible"
  ],
  [
    "422 recordInfo is null long after creation",
    answer("recordInfo", 422, "recordInfo is null", 200, { taskAgeMillis: taskVisibilityGrace + 1 }),
    "KieUnknownError",
    "TaskLost"
  ],
  [
    "422 upstream refusal wrapping a policy reason",
    answer("recordInfo", 422, "Flow rejected: content flagged as unsafe"),
    "KieUserError",
    "ContentPolicy"
  ],
  ["429 rate limit", answer("createTask", 429, "Too many requests"), "KieTransientError", "RateLimited"],
  ["429 as HTTP status without body", { _tag: "Answer", operation: "createTask", status: 429, raw: "" }, "KieTransientError", "RateLimited"],
  ["455 maintenance", answer("createTask", 455, "Service unavailable: maintenance"), "KieTransientError", "Maintenance"],
  ["500 unexpected server error", answer("createTask", 500, "unexpected server error"), "KieUnknownError", "ServerError"],
  ["500 used for validation", answer("createTask", 500, "This field is required"), "KieOperatorError", "InvalidRequest"],
  [
    "500 internal error try again",
    answer("recordInfo", 500, "internal error, please try again later."),
    "KieTransientError",
    "ServerBusy"
  ],
  ["501 generation failed", answer("recordInfo", 501, "Playground task failed."), "KieUnknownError", "GenerationFailed"],
  ["505 feature disabled", answer("createTask", 505, "This feature is disabled"), "KieOperatorError", "ModelDisabled"],
  ["400 taskId missing", answer("recordInfo", 400, "taskId is required"), "KieOperatorError", "InvalidRequest"],
  [
    "HTTP 403 Cloudflare 1010",
    { _tag: "Answer", operation: "createTask", status: 403, raw: "error code: 1010" },
    "KieOperatorError",
    "BlockedByCloudflare"
  ],
  [
    "HTTP 502 from the gateway",
    { _tag: "Answer", operation: "recordInfo", status: 502, raw: "<html>Bad gateway</html>" },
    "KieTransientError",
    "ServerUnavailable"
  ],
  ["an undocumented code", answer("createTask", 430, "whatever"), "KieUnknownError", "Unrecognised"],
  ["an undocumented code 451", answer("createTask", 451, "whatever"), "KieUnknownError", "Unrecognised"],
  [
    "network timeout on createTask",
    { _tag: "Transport", operation: "createTask", kind: "Timeout", detail: "no answer in 30s" },
    "KieUnknownError",
    "SubmitOutcomeUnknown"
  ],
  [
    "connection reset on createTask",
    { _tag: "Transport", operation: "createTask", kind: "Other", detail: "ECONNRESET" },
    "KieUnknownError",
    "SubmitOutcomeUnknown"
  ],
  [
    "connection refused on createTask",
    { _tag: "Transport", operation: "createTask", kind: "ConnectionRefused", detail: "ECONNREFUSED" },
    "KieTransientError",
    "Transport"
  ],
  [
    "timeout on recordInfo",
    { _tag: "Transport", operation: "recordInfo", kind: "Timeout", detail: "no answer in 15s" },
    "KieTransientError",
    "Timeout"
  ],
  [
    "malformed answer",
    { _tag: "Malformed", operation: "createTask", status: 200, raw: "<html>oops</html>", detail: "not JSON" },
    "KieUnknownError",
    "MalformedAnswer"
  ],
  // failMsg / failCode rules
  [
    "prompt flagged",
    failed("", "Your prompt was flagged by Website as violating content policies"),
    "KieUserError",
    "ContentPolicy"
  ],
  ["unsafe image", failed("", "Public error: unsafe image upload"), "KieUserError", "ContentPolicy"],
  [
    "Runway inappropriate content",
    failed("400", "Inappropriate content detected. Please replace the image or video."),
    "KieUserError",
    "ContentPolicy"
  ],
  ["SENSITIVE_WORD_ERROR", failed("SENSITIVE_WORD_ERROR", "blocked"), "KieUserError", "ContentPolicy"],
  ["nsfw keyword", failed("", "NSFW content detected"), "KieUserError", "ContentPolicy"],
  [
    "Veo failed to fetch the image",
    failed("", "Failed to fetch the image. Kindly verify any access limits set by you or your service provider."),
    "KieUserError",
    "UnusableImage"
  ],
  ["Get image info failed", failed("400", "Get image info failed"), "KieUserError", "UnusableImage"],
  ["Incorrect image format", failed("400", "Incorrect image format"), "KieUserError", "UnusableImage"],
  [
    "Unsupported width or height",
    failed("400", "Unsupported width or height. The minimum is 300px."),
    "KieUserError",
    "UnusableImage"
  ],
  ["English only", failed("400", "Only English prompts are supported at this time"), "KieUserError", "PromptLanguage"],
  [
    "concurrent limit",
    failed("", "Reached the limit for concurrent generations."),
    "KieTransientError",
    "GenerationBusy"
  ],
  ["please try again later", failed("", "Please try again later."), "KieTransientError", "GenerationBusy"],
  [
    "upload failed network",
    failed("", "Upload failed due to network reasons, please try again"),
    "KieTransientError",
    "GenerationBusy"
  ],
  ["Internal server error with 500", failed("500", "Internal server error"), "KieTransientError", "GenerationBusy"],
  [
    "internal error try again (Seedream)",
    failed("", "internal error, please try again later."),
    "KieTransientError",
    "GenerationBusy"
  ],
  ["failCode 402", failed("402", "Insufficient balance"), "KieOperatorError", "AccountOutOfCredits"],
  ["Insufficient balance text", failed("", "Insufficient balance"), "KieOperatorError", "AccountOutOfCredits"],
  ["GENERATION_FAILED", failed("GENERATION_FAILED", "model crashed"), "KieUnknownError", "GenerationFailed"],
  ["failCode 501 unexplained", failed("501", "something odd happened"), "KieUnknownError", "GenerationFailed"]
]

describe("classify", () => {
  it.each(rows)("%s", (_name, observation, tag, reason) => {
    const error = classify(observation)
    expect(error._tag).toBe(tag)
    expect(error.reason).toBe(reason)
    expect(error.retryable).toBe(tag === "KieTransientError" || tag === "KieUnknownError")
  })

  it("keeps the raw answer of something unrecognised, for a human", () => {
    const error = classify(answer("createTask", 499, "strange"))
    expect(error._tag).toBe("KieUnknownError")
    expect(error.raw).toBe(JSON.stringify({ code: 499, msg: "strange", data: null }))
    expect(error.code).toBe(499)
    expect(error.msg).toBe("strange")
  })

  it("keeps failCode, failMsg and the task id of a failed task", () => {
    const error = classify(failed("GENERATION_FAILED", "model crashed"))
    expect(error).toMatchObject({ taskId: "task_1", failCode: "GENERATION_FAILED", failMsg: "model crashed" })
  })

  it("scrubs credentials out of the raw text and caps its length", () => {
    const raw = `{"authorization":"Bearer sk-live-123","apiKey":"abc","msg":"x"} Bearer sk-other ${"y".repeat(5000)}`
    const scrubbed = redactRaw(raw)
    expect(scrubbed).not.toContain("sk-live-123")
    expect(scrubbed).not.toContain("abc")
    expect(scrubbed).not.toContain("sk-other")
    expect(scrubbed.length).toBe(2000)
  })
})
