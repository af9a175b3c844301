/**
 * Everything the bot asked the simulator, in order: method, parameters (uploads summarised),
 * and the answer it got. Tests read it directly or wait for a matching call.
 */
import { isUploadedFile } from "./http-body.js"

export type CallOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error_code: number; readonly description: string }

export interface BotCall {
  /** 1-based position in the log. */
  readonly seq: number
  /** Canonical method name (as in the spec), whatever case the bot used. */
  readonly method: string
  readonly params: Record<string, unknown>
  readonly at: number
  readonly outcome: CallOutcome
  /** Set when the answer came from an injected fault rather than the method. */
  readonly fault: boolean
}

export interface UploadSummary {
  readonly upload: true
  readonly filename: string
  readonly size: number
}

interface Waiter {
  readonly predicate: (call: BotCall) => boolean
  readonly since: number
  readonly resolve: (call: BotCall) => void
}

export class CallLog {
  private readonly entries: Array<BotCall> = []
  private waiters: Array<Waiter> = []

  record(method: string, params: Record<string, unknown>, outcome: CallOutcome, fault: boolean): BotCall {
    const call: BotCall = { seq: this.entries.length + 1, method, params: summarise(params), at: Date.now(), outcome, fault }
    this.entries.push(call)
    const waiting = this.waiters
    this.waiters = []
    for (const waiter of waiting) {
      if (call.seq > waiter.since && waiter.predicate(call)) waiter.resolve(call)
      else this.waiters.push(waiter)
    }
    return call
  }

  all(): ReadonlyArray<BotCall> {
    return this.entries
  }

  /** The sequence number of the last call; pass it as `since` to wait only for later calls. */
  get last(): number {
    return this.entries.length
  }

  /** Resolves with the first call after `since` that matches, now or when it happens. */
  waitFor(predicate: (call: BotCall) => boolean, since: number, timeoutMs: number): Promise<BotCall> {
    const existing = this.entries.find((c) => c.seq > since && predicate(c))
    if (existing !== undefined) return Promise.resolve(existing)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`no matching Bot API call within ${timeoutMs} ms`))
      }, timeoutMs)
      const waiter: Waiter = {
        predicate,
        since,
        resolve: (call) => {
          clearTimeout(timer)
          resolve(call)
        }
      }
      this.waiters.push(waiter)
    })
  }
}

const summarise = (value: unknown): Record<string, unknown> => {
  const walk = (v: unknown): unknown => {
    if (isUploadedFile(v)) return { upload: true, filename: v.filename, size: v.bytes.length } satisfies UploadSummary
    if (Buffer.isBuffer(v)) return { bytes: v.length }
    if (Array.isArray(v)) return v.map(walk)
    if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    return v
  }
  return walk(value) as Record<string, unknown>
}
