import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Fiber, Layer, Random, Redacted, Schedule, TestClock } from "effect"
import { KieCircuitBreaker, makeCircuitBreaker } from "../../src/kie/circuit-breaker.js"
import { KieClient } from "../../src/kie/kie-client.js"
import { makeKieSubmitterWith } from "../../src/kie/kie-submitter.js"
import { kling26 } from "../../src/kie/models.js"
import { type OperatorAlert, OperatorAlerts } from "../../src/alerts/operator-alerts.js"
import { KieRateLimiter, makeKieRateLimiter } from "../../src/kie/rate-limiter.js"
import { transientBase, transientJitter } from "../../src/kie/retry-schedules.js"
import { inProcessLimits } from "../support/rate-limits.js"
import { kieSimulator, type KieSimulator, SimFaults } from "../../src/sim/kie/index.js"

const seed = "submitter"

const submitterFor = (sim: KieSimulator, alerts: Array<OperatorAlert>) =>
  Effect.gen(function*() {
    const base = Layer.mergeAll(
      KieClient.layerWith({ apiKey: Redacted.make(sim.apiKey), baseUrl: sim.url, uploadBaseUrl: sim.url }),
      Layer.succeed(OperatorAlerts, { alert: (alert) => Effect.sync(() => alerts.push(alert)) }),
      inProcessLimits()
    )
    const services = Layer.mergeAll(
      Layer.effect(KieRateLimiter, Effect.map(makeKieRateLimiter({ limit: 20 }), KieRateLimiter.make)),
      Layer.scoped(
        KieCircuitBreaker,
        Effect.map(
          makeCircuitBreaker({ minimumCredits: 1, firstProbeAfter: "1 hour", probe: Schedule.spaced("1 hour") }),
          KieCircuitBreaker.make
        )
      )
    ).pipe(Layer.provideMerge(base))
    const context = yield* Layer.build(services)
    return yield* Effect.provide(makeKieSubmitterWith({ retryBase: transientBase }), context)
  })

// Waits (in real time: the HTTP round trip is real) until the retry's sleep is registered.
// TestClock keeps deadlines at nanosecond precision, hence the tolerance.
const awaitSleepUntil = (deadline: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300; i++) {
      const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
      if (sleeps.some((at) => Math.abs(at - deadline) < 1e-3)) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    expect.fail(`no sleep until ${deadline}: ${JSON.stringify(Chunk.toReadonlyArray(yield* TestClock.sleeps()))} now ${yield* TestClock.currentTimeMillis}`)
  })

const request = {
  model: kling26.slug,
  input: kling26.buildInput({ imageUrl: "https://example.com/a.jpg", prompt: "waves", durationSeconds: 5 })
}

describe("KieSubmitter", () => {
  it.scoped("three 429s from KIE, then the task is created after exactly the transient backoff", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual" })
      sim.setFaults({ createTask: SimFaults.rateLimited(3) })
      const submitter = yield* submitterFor(sim, [])

      const draws = Random.make(seed)
      const deadlines: Array<number> = []
      let at = 0
      for (const step of [0, 1, 2]) {
        const r = yield* draws.next
        const base = Duration.toMillis(transientBase) * 2 ** step
        at = at + (base * transientJitter.min * (1 - r) + base * transientJitter.max * r)
        deadlines.push(at)
      }

      const fiber = yield* submitter.submit(request).pipe(Effect.withRandom(Random.make(seed)), Effect.fork)
      for (const [index, deadline] of deadlines.entries()) {
        yield* awaitSleepUntil(deadline)
        expect(sim.createAttempts()).toHaveLength(index + 1)
        if (index === deadlines.length - 1) {
          yield* TestClock.setTime(deadline - 1)
          expect(fiber.unsafePoll()).toBeNull()
        }
        yield* TestClock.setTime(deadline)
      }
      const taskId = yield* Fiber.join(fiber)
      expect(sim.task(taskId)?.model).toBe(kling26.slug)
      expect(sim.createAttempts().map((a) => a.status)).toEqual([-1, -1, -1, 200])
    }))

  it.scoped("an operator error is not retried, alerts, and holds the next submission", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", credits: 0 })
      const alerts: Array<OperatorAlert> = []
      const submitter = yield* submitterFor(sim, alerts)
      const exit = yield* Effect.exit(submitter.submit(request))
      expect(Exit.isFailure(exit)).toBe(true)
      yield* TestClock.adjust("10 minutes")
      expect(sim.createAttempts()).toHaveLength(1)
      expect(alerts).toHaveLength(1)

      const next = yield* Effect.fork(submitter.submit(request))
      yield* TestClock.adjust("10 minutes")
      expect(next.unsafePoll()).toBeNull()
      expect(sim.createAttempts()).toHaveLength(1)
    }))
})
