/**
 * The limits' in-process store: embedded mode's only store, and every runner's fallback
 * while Redis fails. The same counters as @effect/experimental's memory store, but bounded:
 * an entry is dropped once it is worth no more than a missing one (a window that ended, a
 * bucket full again), expired entries are swept at most once per `sweepEvery`, and beyond
 * `maxKeys` the least recently used entries go. Evicting a live entry only forgets that
 * key's count, so a chat or user may get one more burst: a bound on memory is worth it.
 */
import { RateLimiter } from "@effect/experimental"
import { Context, Duration, Effect } from "effect"

export type LimiterStore = Context.Tag.Service<typeof RateLimiter.RateLimiterStore>

export interface MemoryStoreOptions {
  /** Entries per kind of counter (fixed windows, token buckets). */
  readonly maxKeys?: number
  readonly sweepEvery?: Duration.DurationInput
}

interface Expiring {
  expiresAt: number
}

/** A Map whose entries expire and whose size is capped; reads refresh an entry's recency. */
const boundedMap = <A extends Expiring>(maxKeys: number) => {
  const entries = new Map<string, A>()

  const sweep = (now: number) => {
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= now) entries.delete(key)
    }
  }

  return {
    entries,
    sweep,
    /** The live entry of `key`, if any, made the most recently used. */
    get: (key: string, now: number): A | undefined => {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      entries.delete(key)
      if (entry.expiresAt <= now) return undefined
      entries.set(key, entry)
      return entry
    },
    set: (key: string, entry: A, now: number) => {
      entries.delete(key)
      entries.set(key, entry)
      if (entries.size <= maxKeys) return
      sweep(now)
      // Insertion order is recency order: the first keys are the least recently used.
      for (const oldest of entries.keys()) {
        if (entries.size <= maxKeys) break
        entries.delete(oldest)
      }
    }
  }
}

export const makeMemoryStore = (options: MemoryStoreOptions = {}) =>
  Effect.sync(() => {
    const maxKeys = options.maxKeys ?? 100_000
    const sweepEveryMs = Duration.toMillis(options.sweepEvery ?? Duration.minutes(1))
    const windows = boundedMap<{ count: number; expiresAt: number }>(maxKeys)
    const buckets = boundedMap<{ tokens: number; lastRefill: number; expiresAt: number }>(maxKeys)
    let lastSweep = Number.NEGATIVE_INFINITY
    const sweepIfDue = (now: number) => {
      if (now - lastSweep < sweepEveryMs) return
      windows.sweep(now)
      buckets.sweep(now)
      lastSweep = now
    }

    const store: LimiterStore = {
      fixedWindow: (request) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            const refillMillis = Duration.toMillis(request.refillRate)
            const now = clock.unsafeCurrentTimeMillis()
            sweepIfDue(now)
            const counter = windows.get(request.key, now) ?? { count: 0, expiresAt: now }
            if (request.limit !== undefined && counter.count + request.tokens > request.limit) {
              windows.set(request.key, counter, now)
              return [counter.count + request.tokens, counter.expiresAt - now] as const
            }
            counter.count += request.tokens
            counter.expiresAt += refillMillis * request.tokens
            windows.set(request.key, counter, now)
            return [counter.count, counter.expiresAt - now] as const
          })
        ),
      tokenBucket: (request) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            const refillMillis = Duration.toMillis(request.refillRate)
            const now = clock.unsafeCurrentTimeMillis()
            sweepIfDue(now)
            const bucket = buckets.get(request.key, now) ?? { tokens: request.limit, lastRefill: now, expiresAt: now }
            const refills = Math.floor((now - bucket.lastRefill) / refillMillis)
            if (refills > 0) {
              bucket.tokens = Math.min(request.limit, bucket.tokens + refills)
              bucket.lastRefill += refills * refillMillis
            }
            const remaining = bucket.tokens - request.tokens
            if (request.allowOverflow || remaining >= 0) bucket.tokens = remaining
            bucket.expiresAt = fullAgainAt(bucket, request.limit, refillMillis)
            buckets.set(request.key, bucket, now)
            return remaining
          })
        )
    }
    return { store, size: () => ({ windows: windows.entries.size, buckets: buckets.entries.size }) }
  })

/**
 * When a bucket holds `limit` tokens again, plus one step. From then on a missing bucket
 * (full, with its refill clock starting at the next request) admits no more than this one.
 */
export const fullAgainAt = (bucket: { readonly tokens: number; readonly lastRefill: number }, limit: number, refillMillis: number) =>
  bucket.lastRefill + (Math.max(0, limit - bucket.tokens) + 1) * refillMillis
