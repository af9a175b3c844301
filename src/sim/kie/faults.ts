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
  /** Stays in this state forever, as KIE tasks sometimes do. */
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
  /** A fresh task answers "recordInfo is null" this long (KIE needs a moment to list a new task). */
  invisibleForMs: number
  /** Some clients saw resultJson already parsed. */
  resultJsonAsObject: boolean
  /** The quickstart page's shape, which the live service does not send. */
  uploadAnswersFileUrl: boolean
  /** recordInfo's documented example uses `message` instead of `msg`. */
  envelopeUsesMessage: boolean
  /**
   * Finished tasks name their result under this base instead of the simulator's own
   * `/results/`, e.g. http://169.254.169.254/latest: a KIE answer the client must not follow.
   */
  resultUrlBase: string | undefined
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
  envelopeUsesMessage: false,
  resultUrlBase: undefined
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

/**
 * Seeded probabilistic faults for chaos runs, on top of the queued ones above. What a task
 * does (content-policy failure, stuck, callback lost/duplicated) is drawn from a hash of the
 * seed and the task's prompt, so a given seed and set of prompts always gives the same
 * tasks the same fate, whatever order the requests arrive in. Transient errors on
 * createTask/recordInfo are drawn per request from a seeded stream (their count depends on
 * how many requests are made, which depends on timing).
 */
export interface KieChaos {
  readonly seed: number
  /** Share of createTask and recordInfo requests answered with a transient error instead. */
  readonly transientRate?: number
  /** Share of tasks that end in a content-policy failure. */
  readonly contentPolicyRate?: number
  /** Share of tasks that never finish (stay "generating"). */
  readonly stuckRate?: number
  /** Share of finished tasks whose callback is never sent. */
  readonly loseCallbackRate?: number
  /** Share of finished tasks whose callback is sent twice. */
  readonly duplicateCallbackRate?: number
}

/** What a chaos run injected, by kind. */
export interface KieChaosStats {
  transientCreateTask: number
  transientRecordInfo: number
  contentPolicy: number
  stuck: number
  lostCallbacks: number
  duplicatedCallbacks: number
}

export const emptyChaosStats = (): KieChaosStats => ({
  transientCreateTask: 0,
  transientRecordInfo: 0,
  contentPolicy: 0,
  stuck: 0,
  lostCallbacks: 0,
  duplicatedCallbacks: 0
})

/** mulberry32: a small seeded generator in [0, 1). */
export const seededStream = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A number in [0, 1) fixed by the seed, a salt and a key (FNV-1a, then one mulberry32 step). */
export const seededDraw = (seed: number, salt: string, key: string): number => {
  let hash = 0x811c9dc5 ^ (seed >>> 0)
  for (const char of `${salt}\u0000${key}`) {
    hash ^= char.charCodeAt(0)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return seededStream(hash)()
}

/** The transient answers KIE gives (429, 5xx, maintenance), cycled by the draw. */
export const transientAnswers: ReadonlyArray<FaultAnswer> = [
  code(429, "Rate limit exceeded, please try again later"),
  code(455, "Service unavailable: maintenance"),
  { _tag: "Raw", httpStatus: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>" },
  code(500, "Internal server error, please try again later")
]
