/**
 * What can go wrong at KIE, as data a test or a scenario sets on the simulator. Queued
 * answers are consumed one per call, so "three 429s then success" is three entries.
 */

/** An answer that replaces the endpoint's normal one. */
export type FaultAnswer =
  /** A KIE envelope with this code (HTTP 200 unless `httpStatus` says otherwise). */
  | { readonly _tag: "Code"; readonly code: number; readonly msg: string; readonly httpStatus?: number }
  /** An arbitrary body, e.g. Cloudflare's HTML or truncated JSON. */
  | { readonly _tag: "Raw"; readonly httpStatus: number; readonly body: string }
  /** Never answers; the client must time out. */
  | { readonly _tag: "Hang" }

export type TaskOutcome =
  | { readonly _tag: "Success" }
  | { readonly _tag: "Fail"; readonly failCode: string; readonly failMsg: string }
  /** Stays in this state forever (kie-api.md §7.4). */
  | { readonly _tag: "Stuck"; readonly state: "waiting" | "queuing" | "generating" }

export type CallbackMode = "deliver" | "lose" | "duplicate"

export interface KieSimFaults {
  readonly createTask: Array<FaultAnswer>
  readonly recordInfo: Array<FaultAnswer>
  readonly upload: Array<FaultAnswer>
  readonly credits: Array<FaultAnswer>
  /** Real-time delay before every answer, for slow-KIE scenarios. */
  latencyMs: number
  /** Consumed one per created task; when empty, tasks succeed. */
  readonly outcomes: Array<TaskOutcome>
  /** For tasks created while it is set. */
  callbacks: CallbackMode
  /** A fresh task answers "recordInfo is null" this long (kie-api.md §1.4). */
  invisibleForMs: number
  /** Some clients saw resultJson already parsed. */
  resultJsonAsObject: boolean
  /** The quickstart page's shape, which the live service does not send. */
  uploadAnswersFileUrl: boolean
  /** recordInfo's documented example uses `message` instead of `msg`. */
  envelopeUsesMessage: boolean
}

export const noFaults = (): KieSimFaults => ({
  createTask: [],
  recordInfo: [],
  upload: [],
  credits: [],
  latencyMs: 0,
  outcomes: [],
  callbacks: "deliver",
  invisibleForMs: 0,
  resultJsonAsObject: false,
  uploadAnswersFileUrl: false,
  envelopeUsesMessage: false
})

export const code = (code: number, msg: string, httpStatus?: number): FaultAnswer =>
  httpStatus === undefined ? { _tag: "Code", code, msg } : { _tag: "Code", code, msg, httpStatus }

export const hang: FaultAnswer = { _tag: "Hang" }

export const rateLimited = (count: number): Array<FaultAnswer> =>
  Array.from({ length: count }, () => code(429, "Rate limit exceeded, please try again later"))

export const outcomes = {
  success: { _tag: "Success" } as TaskOutcome,
  contentPolicy: {
    _tag: "Fail",
    failCode: "400",
    failMsg: "Your prompt was flagged by Website as violating content policies"
  } as TaskOutcome,
  generationFailed: { _tag: "Fail", failCode: "500", failMsg: "Internal server error" } as TaskOutcome,
  unexplained: { _tag: "Fail", failCode: "GENERATION_FAILED", failMsg: "generation failed" } as TaskOutcome,
  stuck: { _tag: "Stuck", state: "waiting" } as TaskOutcome
}
