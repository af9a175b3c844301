/**
 * What this runner asked of each limit in the last minute, for operators (the dashboard):
 * a budget is a limit's key with its ids folded (`telegram:chat:123` → `telegram:chat:*`),
 * with the size of the limit, how many requests it had, how many distinct keys (chats,
 * users), and how many had to wait or were refused. The counters themselves live in the
 * store (Redis or memory); this only watches the answers.
 */
import type { RateLimiter } from "@effect/experimental"
import { Clock, Duration, Effect } from "effect"
import type { LimitRequest } from "./limit-request.js"

export interface BudgetUsage {
  readonly budget: string
  readonly algorithm: LimitRequest["algorithm"]
  /** Tokens (token bucket: the burst) per window. */
  readonly limit: number
  readonly windowMs: number
  /** One budget for all runners together. */
  readonly global: boolean
  /** In the last minute, on this runner. */
  readonly requests: number
  readonly keys: number
  /** Requests that waited for a slot or were refused. */
  readonly held: number
  readonly longestWaitMs: number
}

export const usageWindow = Duration.minutes(1)
/** Per budget; beyond it the oldest answers are forgotten first. */
const defaultMaxEvents = 20_000

interface Event {
  readonly at: number
  readonly key: string
  readonly waitedMs: number
  readonly held: boolean
}

interface Budget {
  request: LimitRequest
  events: Array<Event>
  /** Events before this index are forgotten (too old, or beyond the cap). */
  first: number
}

/** `telegram:chat:-100123` → `telegram:chat:*`: ids become one budget. */
export const budgetOf = (key: string) => key.split(":").map((part) => /^-?\d+$/.test(part) ? "*" : part).join(":")

export const makeBudgetUsage = (options?: { readonly maxEvents?: number }) =>
  Effect.sync(() => {
    const maxEvents = options?.maxEvents ?? defaultMaxEvents
    const budgets = new Map<string, Budget>()
    const windowMs = Duration.toMillis(usageWindow)

    // Forgetting moves an index; the array is copied only once half of it is forgotten. A
    // copy of the whole window on every answer past the cap (the per-user flood budget under
    // a burst of photos: 20,000 in a minute) made ~160 KB of garbage per update.
    const prune = (budget: Budget, now: number) => {
      const { events } = budget
      let first = Math.max(budget.first, events.length - maxEvents)
      while (first < events.length && now - events[first]!.at >= windowMs) first++
      if (first >= 64 && 2 * first >= events.length) {
        budget.events = events.slice(first)
        first = 0
      }
      budget.first = first
    }

    const record = (request: LimitRequest, event: Omit<Event, "at" | "key">) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const name = budgetOf(request.key)
        let budget = budgets.get(name)
        if (budget === undefined) {
          budget = { request, events: [], first: 0 }
          budgets.set(name, budget)
        }
        budget.request = request
        budget.events.push({ ...event, at: now, key: request.key })
        if (budget.events.length - budget.first > maxEvents) prune(budget, now)
      })

    /** Runs `consume` for `request` and records its answer. */
    const track = <E extends RateLimiter.RateLimitExceeded>(
      request: LimitRequest,
      consume: Effect.Effect<RateLimiter.ConsumeResult, E>
    ): Effect.Effect<RateLimiter.ConsumeResult, E> =>
      consume.pipe(
        Effect.tap((result) => {
          const waitedMs = Duration.toMillis(result.delay)
          return record(request, { waitedMs, held: waitedMs > 0 })
        }),
        Effect.tapError((error) => record(request, { waitedMs: Duration.toMillis(error.retryAfter), held: true }))
      )

    const snapshot: Effect.Effect<ReadonlyArray<BudgetUsage>> = Effect.map(Clock.currentTimeMillis, (now) =>
      [...budgets.entries()].map(([name, budget]) => {
        prune(budget, now)
        const events = budget.events.slice(budget.first)
        return {
          budget: name,
          algorithm: budget.request.algorithm,
          limit: budget.request.limit,
          windowMs: Duration.toMillis(budget.request.window),
          global: budget.request.global === true,
          requests: events.length,
          keys: new Set(events.map((event) => event.key)).size,
          held: events.filter((event) => event.held).length,
          longestWaitMs: events.reduce((longest, event) => Math.max(longest, event.waitedMs), 0)
        }
      }).sort((a, b) => a.budget.localeCompare(b.budget)))

    return { track, snapshot } as const
  })
