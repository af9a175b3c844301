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
const maxEvents = 20_000

interface Event {
  readonly at: number
  readonly key: string
  readonly waitedMs: number
  readonly held: boolean
}

interface Budget {
  request: LimitRequest
  events: Array<Event>
}

/** `telegram:chat:-100123` → `telegram:chat:*`: ids become one budget. */
export const budgetOf = (key: string) => key.split(":").map((part) => /^-?\d+$/.test(part) ? "*" : part).join(":")

export const makeBudgetUsage = Effect.sync(() => {
  const budgets = new Map<string, Budget>()
  const windowMs = Duration.toMillis(usageWindow)

  const prune = (budget: Budget, now: number) => {
    const first = budget.events.findIndex((event) => now - event.at < windowMs)
    budget.events = first === -1 ? [] : budget.events.slice(Math.max(first, budget.events.length - maxEvents))
  }

  const record = (request: LimitRequest, event: Omit<Event, "at" | "key">) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const name = budgetOf(request.key)
      const budget = budgets.get(name) ?? { request, events: [] }
      budget.request = request
      budget.events.push({ ...event, at: now, key: request.key })
      if (budget.events.length > maxEvents) prune(budget, now)
      budgets.set(name, budget)
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
      return {
        budget: name,
        algorithm: budget.request.algorithm,
        limit: budget.request.limit,
        windowMs: Duration.toMillis(budget.request.window),
        global: budget.request.global === true,
        requests: budget.events.length,
        keys: new Set(budget.events.map((event) => event.key)).size,
        held: budget.events.filter((event) => event.held).length,
        longestWaitMs: Math.max(0, ...budget.events.map((event) => event.waitedMs))
      }
    }).sort((a, b) => a.budget.localeCompare(b.budget)))

  return { track, snapshot } as const
})
