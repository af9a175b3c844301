/**
 * Redis goes away under a running bot (a private redis-server, killed and started again):
 * the bot must keep answering on local limits at once, lose nothing, and share the limits
 * again once Redis is back. Before, /help waited 85 s and a new user's /start 126 s for
 * ioredis's retries.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Metric, TestClock } from "effect"
import { rateLimitsLocal, rateLimitsOutages } from "../../src/observability/metrics.js"
import { RateLimits } from "../../src/rate-limits/rate-limits.js"
import { realPause } from "../support/job-harness.js"
import { getJson } from "../../src/sim/runner-process.js"
import { redisLimits } from "../support/rate-limits.js"
import { privateRedis } from "../support/redis-server.js"
import type { Simulators } from "../support/job-harness.js"
import {
  countText,
  eventually,
  freePort,
  hasText,
  inSystem,
  photoBytes,
  pollingSystem,
  startSystemSimulators,
  user,
  videosTo
} from "./support.js"

const WELCOME = "I turn a photo into a short video"
const HELP = "/settings: choose the model"
const TOO_FAST = "You are sending messages too fast"
const PREFIX = "photo-video-bot:ratelimit:"

/**
 * Moves both clocks with real time until `check` holds; how long that took, in real
 * milliseconds. Fails the test past `budgetMs`.
 */
const answeredWithin = (sims: Simulators, what: string, check: () => boolean, budgetMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    let clock = start
    while (!check()) {
      if (Date.now() - start > budgetMs) return yield* Effect.dieMessage(`${what}: no answer within ${budgetMs} ms`)
      yield* realPause(20)
      const elapsed = Date.now() - clock
      clock += elapsed
      yield* Effect.promise(() => sims.kie.advance(elapsed))
      yield* TestClock.adjust(elapsed)
    }
    return Date.now() - start
  })

const readyz = (port: number) => Effect.promise(() => getJson(`http://127.0.0.1:${port}/readyz`))

describe("a Redis outage (SQLite, polling, a private redis-server)", () => {
  it.scoped("the bot answers at once on local limits, loses nothing, and shares the limits again when Redis is back", () =>
    Effect.gen(function*() {
      const redis = yield* privateRedis
      const httpPort = yield* Effect.promise(freePort)
      const sims = yield* startSystemSimulators("sqlite", {
        env: { REDIS_URL: redis.url, HTTP_PORT: String(httpPort), FLOOD_LIMIT_PER_MINUTE: "5" }
      })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims, { health: true }), Effect.gen(function*() {
        const ann = user(sims, 7601)
        ann.sendCommand("start")
        yield* eventually(sims, "welcome", () => hasText(sim, 7601, WELCOME))
        assert.deepStrictEqual((yield* readyz(httpPort)).body.rateLimits, { store: "redis" })
        // The limits are in Redis, and every key expires.
        const keys = yield* Effect.promise(() => redis.client.keys(`${PREFIX}*`))
        assert.includeMembers(keys, [`${PREFIX}flood:7601`, `${PREFIX}telegram:chat:7601`, `${PREFIX}telegram:chat:7601:refill`])
        const ttls = yield* Effect.promise(() => Promise.all(keys.map((key) => redis.client.pttl(key))))
        // -1 is a key without expiry; -2 one that expired between the listing and this read
        // (a full bucket's keys live about a second).
        assert.isTrue(ttls.every((ttl) => ttl !== -1), `keys without expiry: ${keys.filter((_, i) => ttls[i] === -1)}`)

        // Redis dies while ten new users say /start.
        const outagesBefore = (yield* Metric.value(rateLimitsOutages)).count
        const crowd = Array.from({ length: 10 }, (_, i) => user(sims, 7610 + i))
        for (const member of crowd) member.sendCommand("start")
        yield* redis.kill

        ann.sendCommand("help")
        const helpMs = yield* answeredWithin(sims, "/help", () => hasText(sim, 7601, HELP), 2_000)
        const bob = user(sims, 7602)
        bob.sendCommand("start")
        const startMs = yield* answeredWithin(sims, "a new user's /start", () => hasText(sim, 7602, WELCOME), 2_000)
        yield* Effect.sync(() => console.log(`during the outage: /help answered in ${helpMs} ms, a new user's /start in ${startMs} ms`))
        yield* eventually(sims, "the crowd welcomed", () => crowd.every((member) => hasText(sim, member.id, WELCOME)), "30 seconds")

        // Said once: still ready, the limits local.
        const during = yield* readyz(httpPort)
        assert.strictEqual(during.status, 200)
        assert.isTrue(during.body.ready)
        assert.deepInclude(during.body.rateLimits as object, { store: "local", runners: 1 })
        assert.strictEqual((yield* Metric.value(rateLimitsLocal)).value, 1)
        assert.strictEqual((yield* Metric.value(rateLimitsOutages)).count - outagesBefore, 1)

        ann.sendPhoto(photoBytes, { caption: "the waves roll in" })
        yield* eventually(sims, "the video during the outage", () => videosTo(sim, 7601).length === 1)
        yield* eventually(sims, "the job done", () => hasText(sim, 7601, "Done"))
        // Nothing lost, nothing twice.
        for (const member of [...crowd, bob]) assert.strictEqual(countText(sim, member.id, WELCOME), 1)
        assert.strictEqual(countText(sim, 7601, HELP), 1)

        // Redis comes back (empty); the probe returns the runner to the shared limits.
        yield* redis.restart
        const backMs = yield* waitForShared(sims, httpPort)
        yield* Effect.sync(() => console.log(`back to the shared limits ${backMs} ms after Redis restarted`))
        assert.strictEqual((yield* Metric.value(rateLimitsLocal)).value, 0)

        bob.sendCommand("help")
        yield* eventually(sims, "help after the outage", () => hasText(sim, 7602, HELP), "10 seconds")
        assert.isAbove(yield* Effect.promise(() => redis.client.pttl(`${PREFIX}flood:7602`)), 0)
        // Another runner's limiter on the same Redis uses up Bob's flood limit; this runner sees it.
        const other = yield* Layer.build(redisLimits({ url: redis.url, prefix: PREFIX }))
        const otherLimits = yield* RateLimits.pipe(Effect.provide(other))
        const flood = { key: "flood:7602", limit: 5, window: "1 minute", algorithm: "fixed-window", onExceeded: "fail" } as const
        let taken = 0
        while (Exit.isSuccess(yield* Effect.exit(otherLimits.consume(flood)))) taken++
        assert.strictEqual(taken, 4, "Bob's /help counted in Redis")
        bob.sendCommand("help")
        yield* eventually(sims, "the flood warning", () => hasText(sim, 7602, TOO_FAST), "10 seconds")
        assert.strictEqual(countText(sim, 7602, HELP), 1)
      }))
    }), 180_000)
})

/** Real milliseconds until /readyz shows the shared limits again (both clocks move). */
const waitForShared = (sims: Simulators, httpPort: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    for (let i = 0; i < 60; i++) {
      const body = (yield* readyz(httpPort)).body
      if ((body.rateLimits as { store?: string }).store === "redis") return Date.now() - start
      yield* realPause(250)
      yield* Effect.promise(() => sims.kie.advance(250))
      yield* TestClock.adjust("250 millis")
    }
    return yield* Effect.dieMessage("the limits never became shared again")
  })
