/**
 * The one place that knows what KIE's codes and failure texts mean.
 * Pure: every observation of a KIE call maps to exactly one error class with a reason.
 */
import {
  type KieError,
  type KieOperation,
  KieOperatorError,
  KieTransientError,
  KieUnknownError,
  KieUserError
} from "../errors/kie-errors.js"

/** What the client saw; the classifier never sees request headers, so no key can leak. */
export type KieObservation =
  | {
    readonly _tag: "Transport"
    readonly operation: KieOperation
    readonly kind: "Timeout" | "ConnectionRefused" | "Other"
    readonly detail: string
  }
  | {
    /** A non-success answer: HTTP status plus the envelope's code/msg when the body had one. */
    readonly _tag: "Answer"
    readonly operation: KieOperation
    readonly status: number
    readonly code?: number | undefined
    readonly msg?: string | undefined
    readonly taskId?: string | undefined
    readonly raw: string
    /** recordInfo only: how long ago we created the task, to tolerate "recordInfo is null". */
    readonly taskAgeMillis?: number | undefined
  }
  | {
    readonly _tag: "Malformed"
    readonly operation: KieOperation
    readonly status: number
    readonly raw: string
    readonly detail: string
  }
  | {
    /** A task that reached state `fail`. */
    readonly _tag: "TaskFailed"
    readonly taskId: string
    readonly failCode: string
    readonly failMsg: string
    readonly raw: string
  }

/** KIE often answers "recordInfo is null" for a task created a moment ago. */
export const taskVisibilityGrace = 60_000

const RAW_LIMIT = 2_000

/**
 * KIE does not echo credentials, but answers end up in logs and job rows, so anything
 * shaped like a bearer token or a key/token/secret field is masked, and the text is capped.
 */
export const redactRaw = (raw: string): string =>
  raw
    .replace(/(bearer\s+)[^\s"',;]+/gi, "$1<redacted>")
    .replace(
      /("?(?:api[_-]?key|authorization|token|secret|signature|password)"?\s*[:=]\s*"?)[^"&\s,}]+/gi,
      "$1<redacted>"
    )
    .slice(0, RAW_LIMIT)

const contentPolicy = /flagged|content polic|violat|sensitive|unsafe|nsfw|inappropriate/i
const unusableImage =
  /failed to fetch the image|get image info failed|incorrect image format|unsupported width or height|image.*(too large|too small|corrupt|invalid)/i
const promptLanguage = /only english prompts/i
const billing = /insufficient balance|credits? (are |is )?insufficient|credits insufficient|top up/i
const busy =
  /reached the limit for concurrent generations|try again later|network reasons|internal server error|internal error|timed? ?out/i
const validation = /required|invalid|must be|not allowed|field|parameter/i

// Builds the error without `undefined` keys (exactOptionalPropertyTypes).
const fields = (f: Record<string, string | number | undefined>) =>
  Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined && v !== "")) as {}

export const classify = (observation: KieObservation): KieError => {
  switch (observation._tag) {
    case "Transport":
      return classifyTransport(observation)
    case "Malformed":
      return new KieUnknownError({
        reason: "MalformedAnswer",
        operation: observation.operation,
        status: observation.status,
        msg: observation.detail.slice(0, 500),
        raw: redactRaw(observation.raw)
      })
    case "TaskFailed":
      return classifyTaskFailure(observation)
    case "Answer":
      return classifyAnswer(observation)
  }
}

const classifyTransport = (o: Extract<KieObservation, { _tag: "Transport" }>): KieError => {
  // A createTask that may have reached KIE must not be blindly resubmitted: it could be
  // charged twice. Only a refused connection proves nothing was sent.
  if (o.operation === "createTask" && o.kind !== "ConnectionRefused") {
    return new KieUnknownError({ reason: "SubmitOutcomeUnknown", operation: o.operation, msg: o.detail })
  }
  return new KieTransientError({
    reason: o.kind === "Timeout" ? "Timeout" : "Transport",
    operation: o.operation,
    msg: o.detail
  })
}

const classifyTaskFailure = (o: Extract<KieObservation, { _tag: "TaskFailed" }>): KieError => {
  const base = {
    operation: "recordInfo" as const,
    ...fields({ taskId: o.taskId, failCode: o.failCode, failMsg: o.failMsg }),
    raw: redactRaw(o.raw)
  }
  const text = `${o.failCode} ${o.failMsg}`
  if (o.failCode === "SENSITIVE_WORD_ERROR" || contentPolicy.test(o.failMsg)) {
    return new KieUserError({ reason: "ContentPolicy", ...base })
  }
  if (unusableImage.test(o.failMsg)) return new KieUserError({ reason: "UnusableImage", ...base })
  // No model in the catalog needs English-only prompts; if one did, its input builder
  // would enable translation. Until then only the user can act on it.
  if (promptLanguage.test(o.failMsg)) return new KieUserError({ reason: "PromptLanguage", ...base })
  if (o.failCode === "402" || billing.test(text)) return new KieOperatorError({ reason: "AccountOutOfCredits", ...base })
  if (o.failCode === "433") return new KieOperatorError({ reason: "KeyCapReached", ...base })
  if (o.failCode === "429" || busy.test(o.failMsg) || o.failCode === "500") {
    return new KieTransientError({ reason: "GenerationBusy", ...base })
  }
  return new KieUnknownError({ reason: "GenerationFailed", ...base })
}

const classifyAnswer = (o: Extract<KieObservation, { _tag: "Answer" }>): KieError => {
  const code = o.code ?? o.status
  const msg = o.msg ?? ""
  const base = {
    operation: o.operation,
    ...fields({ status: o.status, code: o.code, msg: o.msg, taskId: o.taskId }),
    raw: redactRaw(o.raw)
  }
  // Cloudflare's bot block looks like an auth failure but is a missing User-Agent.
  if (o.status === 403 && /1010/.test(o.raw)) return new KieOperatorError({ reason: "BlockedByCloudflare", ...base })
  switch (code) {
    case 401:
    case 403:
      return new KieOperatorError({ reason: "BadApiKey", ...base })
    case 402:
      return new KieOperatorError({ reason: "AccountOutOfCredits", ...base })
    case 433:
      return new KieOperatorError({ reason: "KeyCapReached", ...base })
    case 404:
      return new KieOperatorError({ reason: "NotFound", ...base })
    case 505:
      return new KieOperatorError({ reason: "ModelDisabled", ...base })
    case 429:
      return new KieTransientError({ reason: "RateLimited", ...base })
    case 455:
      return new KieTransientError({ reason: "Maintenance", ...base })
    case 422: {
      if (/recordInfo is null/i.test(msg)) {
        return (o.taskAgeMillis ?? 0) < taskVisibilityGrace
          ? new KieTransientError({ reason: "TaskNotYetVisible", ...base })
          : new KieUnknownError({ reason: "TaskLost", ...base })
      }
      if (/does not exist or is not published/i.test(msg)) return new KieOperatorError({ reason: "UnknownModel", ...base })
      return classifyRefusal(msg, base)
    }
    case 400:
      return classifyRefusal(msg, base)
    case 500:
      // KIE also uses 500 for validation; retrying those loops forever.
      if (busy.test(msg)) return new KieTransientError({ reason: "ServerBusy", ...base })
      if (validation.test(msg)) return new KieOperatorError({ reason: "InvalidRequest", ...base })
      return new KieUnknownError({ reason: "ServerError", ...base })
    case 501:
      if (contentPolicy.test(msg)) return new KieUserError({ reason: "ContentPolicy", ...base })
      if (busy.test(msg)) return new KieTransientError({ reason: "GenerationBusy", ...base })
      return new KieUnknownError({ reason: "GenerationFailed", ...base })
    default:
      // Gateways in front of KIE (502/503/504) answer without an envelope.
      if (o.code === undefined && code >= 502 && code <= 504) {
        return new KieTransientError({ reason: "ServerUnavailable", ...base })
      }
      return new KieUnknownError({ reason: "Unrecognised", ...base })
  }
}

// A refused request is our bug unless the message points at what the user supplied.
const classifyRefusal = (msg: string, base: Omit<ConstructorParameters<typeof KieOperatorError>[0], "reason">) => {
  if (contentPolicy.test(msg)) return new KieUserError({ reason: "ContentPolicy", ...base })
  if (unusableImage.test(msg)) return new KieUserError({ reason: "UnusableImage", ...base })
  if (/prompt/i.test(msg)) return new KieUserError({ reason: "PromptRejected", ...base })
  return new KieOperatorError({ reason: "InvalidRequest", ...base })
}

export const isTransient = (e: KieError): e is KieTransientError => e._tag === "KieTransientError"
export const isUnknown = (e: KieError): e is KieUnknownError => e._tag === "KieUnknownError"
export const isOperator = (e: KieError): e is KieOperatorError => e._tag === "KieOperatorError"
