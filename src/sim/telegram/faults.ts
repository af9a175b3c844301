/**
 * Injected faults: a 429 with `retry_after`, a 5xx, a 403 "bot was blocked by the user", any other
 * error, a connection closed without an answer (`reset`: the client sees "socket hang up"), or a
 * slow answer. A fault targets one method or all, optionally one chat, for a number of calls
 * (`times`, default unlimited). Delays are applied first, then the first matching error.
 */
import { ApiError, forbidden, serverError, tooManyRequests } from "./api-error.js"

export type FaultEffect =
  | { readonly kind: "retry_after"; readonly retryAfter: number }
  | { readonly kind: "server_error"; readonly status?: number }
  | { readonly kind: "blocked" }
  | { readonly kind: "error"; readonly code: number; readonly description: string }
  | { readonly kind: "reset" }
  | { readonly kind: "delay"; readonly ms: number }

export type FaultSpec = FaultEffect & {
  /** Method name (any case); omitted = every method. */
  readonly method?: string
  /** Only calls whose `chat_id` (or `user_id`) is this chat. */
  readonly chatId?: number
  /** How many matching calls it hits; omitted = until removed. */
  readonly times?: number
  /** Hits only this share of the matching calls, drawn from the simulator's seeded stream (default 1). */
  readonly probability?: number
}

/** The answer of a `reset` fault: the server closes the connection instead of answering. */
export class ConnectionReset {
  readonly description = "connection reset by the simulator"
}

export interface Fault {
  readonly spec: FaultSpec
  /** Calls it still hits (Infinity when unlimited). */
  readonly remaining: number
  /** Calls it has hit so far. */
  readonly hits: number
  remove(): void
}

class ActiveFault implements Fault {
  remaining: number
  hits = 0
  constructor(readonly spec: FaultSpec, private readonly owner: Faults) {
    this.remaining = spec.times ?? Number.POSITIVE_INFINITY
  }
  matches(method: string, chatId: number | undefined): boolean {
    if (this.remaining <= 0) return false
    if (this.spec.method !== undefined && this.spec.method.toLowerCase() !== method.toLowerCase()) return false
    if (this.spec.chatId !== undefined && this.spec.chatId !== chatId) return false
    return true
  }
  consume(): void {
    this.remaining--
    this.hits++
    if (this.remaining <= 0) this.remove()
  }
  remove(): void {
    this.owner.remove(this)
  }
}

export class Faults {
  private active: Array<ActiveFault> = []

  /** `random` decides probabilistic faults; seed it for a reproducible run. */
  constructor(private readonly random: () => number = Math.random) {}

  inject(spec: FaultSpec): Fault {
    const fault = new ActiveFault(spec, this)
    this.active.push(fault)
    return fault
  }

  remove(fault: Fault): void {
    this.active = this.active.filter((f) => f !== fault)
  }

  clear(): void {
    this.active = []
  }

  /** Waits out matching delays and returns the error to answer with, if any. */
  async apply(method: string, chatId: number | undefined): Promise<ApiError | ConnectionReset | undefined> {
    const matching = this.active.filter((f) =>
      f.matches(method, chatId) && (f.spec.probability === undefined || this.random() < f.spec.probability)
    )
    for (const fault of matching) {
      if (fault.spec.kind === "delay") {
        fault.consume()
        await new Promise((resolve) => setTimeout(resolve, (fault.spec as { ms: number }).ms))
      }
    }
    const failing = matching.find((f) => f.spec.kind !== "delay" && f.remaining > 0)
    if (failing === undefined) return undefined
    failing.consume()
    const spec = failing.spec
    switch (spec.kind) {
      case "retry_after":
        return tooManyRequests(spec.retryAfter)
      case "server_error":
        return serverError(spec.status ?? 500)
      case "blocked":
        return forbidden("bot was blocked by the user")
      case "error":
        return new ApiError(spec.code, spec.description)
      case "reset":
        return new ConnectionReset()
      case "delay":
        return undefined
    }
  }
}
