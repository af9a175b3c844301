/**
 * The limits' Redis store, shared by all runners: the counters of @effect/experimental's
 * Redis store (one atomic Lua call per request, the same keys), with two changes. Every key
 * expires: a token bucket's two keys live until the bucket is full again, when a missing
 * bucket is worth the same (the library's never expired: two permanent keys per chat ever
 * messaged). And the client fails fast instead of waiting for Redis: a limiter call that
 * cannot be answered at once is answered locally (see ./rate-limits.ts).
 */
import { RateLimiter } from "@effect/experimental"
import { Duration, Effect, Runtime } from "effect"
import { Redis, type RedisOptions } from "ioredis"
import type { LimiterStore } from "./memory-store.js"

/** ioredis takes options, not a URL; credentials stay inside the options object. */
export const redisOptionsFromUrl = (url: string): RedisOptions => {
  const parsed = new URL(url)
  const db = parsed.pathname.replace(/^\//, "")
  return {
    host: parsed.hostname,
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    ...(parsed.username !== "" ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password !== "" ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db !== "" ? { db: Number(db) } : {}),
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {})
  }
}

/**
 * The client's behaviour while Redis is away, chosen for a limiter that has a local
 * fallback (ioredis's defaults queue every command and retry it 20 times, which held a
 * /help for over a minute).
 */
export const failFastOptions = (deadline: Duration.Duration): RedisOptions => ({
  // While disconnected a command fails at once instead of waiting for the reconnect.
  enableOfflineQueue: false,
  // A command in flight when the connection drops fails at once, not after reconnects…
  maxRetriesPerRequest: 0,
  // …and is not sent again later: its caller has been answered locally already.
  autoResendUnfulfilledCommands: false,
  // A Redis that accepts the connection but does not answer (stopped, partitioned).
  commandTimeout: Math.ceil(Duration.toMillis(deadline)),
  connectTimeout: 2_000,
  // Reconnect for ever, at most every 2 s, so that the limits become shared again.
  retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000)
})

interface RedisWithLimits extends Redis {
  limitFixedWindow(key: string, tokens: number, refillMillis: number, limit?: number): Promise<[number, number]>
  limitTokenBucket(key: string, tokens: number, refillMillis: number, limit: number, now: number, overflow: 0 | 1): Promise<number>
}

const fixedWindowScript = `
local key = KEYS[1]
local tokens = tonumber(ARGV[1])
local refillms = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local current = tonumber(redis.call("GET", key))
if not current then
  local nextpttl = math.ceil(refillms * tokens)
  redis.call("SET", key, tokens, "PX", nextpttl)
  return { tokens, nextpttl }
end
local currentpttl = math.max(0, tonumber(redis.call("PTTL", key)))
local next = current + tokens
if limit and next > limit then
  return { next, currentpttl }
end
local nextpttl = math.ceil(currentpttl + refillms * tokens)
redis.call("SET", key, next, "PX", nextpttl)
return { next, nextpttl }
`

// As the library's, plus the expiry: the bucket is full again at last_refill +
// (limit - tokens) steps; the keys live one step longer (see fullAgainAt in ./memory-store.ts).
const tokenBucketScript = `
local key = KEYS[1]
local last_refill_key = key .. ":refill"
local tokens = tonumber(ARGV[1])
local refill_ms = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local overflow = ARGV[5] == "1"
local current = tonumber(redis.call("GET", key))
local last_refill = tonumber(redis.call("GET", last_refill_key))
if not current or not last_refill then
  current = limit
  last_refill = now
end
local refill_amount = math.floor((now - last_refill) / refill_ms)
if refill_amount > 0 then
  current = math.min(current + refill_amount, limit)
  last_refill = last_refill + (refill_amount * refill_ms)
end
local next = current - tokens
local stored = next
if next < 0 and not overflow then
  stored = current
end
local ttl = math.max(1, math.ceil(last_refill + (math.max(0, limit - stored) + 1) * refill_ms - now))
redis.call("SET", key, stored, "PX", ttl)
redis.call("SET", last_refill_key, last_refill, "PX", ttl)
return next
`

export interface RedisLimiterStore {
  readonly store: LimiterStore
  /** Succeeds when Redis answers a PING. */
  readonly ping: Effect.Effect<void, RateLimiter.RateLimitStoreError>
  /**
   * Calls `handler` whenever the connection is lost or a reconnect fails, so that an outage
   * is seen without waiting for a limiter call; at once if there is no connection now.
   */
  readonly onConnectionLost: (handler: (reason: string) => void) => void
}

const storeError = (what: string) => (cause: unknown) =>
  new RateLimiter.RateLimitStoreError({ message: `Redis ${what} failed: ${describe(cause)}`, cause })

const describe = (cause: unknown) => cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)

/**
 * One client per process, opened for the scope. Its connection errors go to the Effect
 * logger at debug level (ioredis would print each one raw to stderr, every reconnect
 * attempt): the outage itself is reported once, by the caller that falls back.
 */
export const makeRedisLimiterStore = (options: {
  readonly redis: RedisOptions
  readonly prefix: string
  readonly deadline: Duration.Duration
}): Effect.Effect<RedisLimiterStore, never, import("effect").Scope.Scope> =>
  Effect.gen(function*() {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const lostHandlers: Array<(reason: string) => void> = []
    let lastError: string | undefined
    let closing = false
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis({ ...options.redis, ...failFastOptions(options.deadline) }) as RedisWithLimits
        client.on("error", (error: unknown) => {
          lastError = describe(error)
          runFork(Effect.logDebug("Redis connection error", lastError))
        })
        client.on("ready", () => (lastError = undefined))
        client.on("close", () => {
          if (!closing) for (const handler of lostHandlers) handler(lastError ?? "the connection to Redis closed")
        })
        return client
      }),
      (client) =>
        Effect.promise(() => {
          closing = true
          return client.quit().catch(() => client.disconnect())
        })
    )
    redis.defineCommand("limitFixedWindow", { lua: fixedWindowScript, numberOfKeys: 1, readOnly: false })
    redis.defineCommand("limitTokenBucket", { lua: tokenBucketScript, numberOfKeys: 1, readOnly: false })
    // Without the offline queue a command sent before the first connection fails; waiting
    // (in real time: this is I/O) spares every start-up a false "Redis is down".
    yield* Effect.promise(() => connected(redis, 2_000))

    const store: LimiterStore = {
      fixedWindow: (request) =>
        Effect.tryPromise({
          try: () =>
            redis.limitFixedWindow(
              `${options.prefix}${request.key}`,
              request.tokens,
              Duration.toMillis(request.refillRate),
              request.limit
            ),
          catch: storeError("fixedWindow")
        }),
      tokenBucket: (request) =>
        Effect.clockWith((clock) =>
          Effect.tryPromise({
            try: () =>
              redis.limitTokenBucket(
                `${options.prefix}${request.key}`,
                request.tokens,
                Duration.toMillis(request.refillRate),
                request.limit,
                clock.unsafeCurrentTimeMillis(),
                request.allowOverflow ? 1 : 0
              ),
            catch: storeError("tokenBucket")
          })
        )
    }
    return {
      store,
      ping: Effect.tryPromise({ try: () => redis.ping(), catch: storeError("PING") }).pipe(Effect.asVoid),
      onConnectionLost: (handler) => {
        lostHandlers.push(handler)
        if (redis.status !== "ready") handler(lastError ?? "no connection to Redis")
      }
    }
  })

/** Until the first connection is ready or refused, at most `timeoutMs`. */
const connected = (redis: Redis, timeoutMs: number) =>
  new Promise<boolean>((resolve) => {
    if (redis.status === "ready") return resolve(true)
    const timer = setTimeout(() => done(false), timeoutMs)
    const onReady = () => done(true)
    const onClose = () => done(false)
    const done = (ready: boolean) => {
      clearTimeout(timer)
      redis.off("ready", onReady)
      redis.off("close", onClose)
      resolve(ready)
    }
    redis.once("ready", onReady)
    redis.once("close", onClose)
  })
