import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Redacted, Schedule, TestClock } from "effect"
import { type BreakerState, makeCircuitBreaker, openGauge } from "../../src/kie/circuit-breaker.js"
import { KieClient } from "../../src/kie/kie-client.js"
import { kling26 } from "../../src/kie/models.js"
import { type OperatorAlert, OperatorAlerts } from "../../src/alerts/operator-alerts.js"
import { kieSimulator, type KieSimulator, SimFaults } from "../../src/sim/kie/index.js"

// The probe runs real HTTP in a forked fiber; wait for it in real time, briefly.
const eventually = (check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      if (yield* check) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    expect(yield* check).toBe(true)
  })

const failedProbes = (breaker: { readonly state: Effect.Effect<BreakerState> }) =>
  Effect.map(breaker.state, (s) => s._tag === "Open" ? s.failedProbes : -1)

const setup = (sim: KieSimulator) =>
  Effect.gen(function*() {
    const alerts: Array<OperatorAlert> = []
    const context = yield* Layer.build(Layer.merge(
      KieClient.layerWith({ apiKey: Redacted.make(sim.apiKey), baseUrl: sim.url, uploadBaseUrl: sim.url }),
      Layer.succeed(OperatorAlerts, { alert: (alert) => Effect.sync(() => alerts.push(alert)) })
    ))
    const breaker = yield* makeCircuitBreaker({
      minimumCredits: 55,
      firstProbeAfter: "15 seconds",
      probe: Schedule.spaced("15 seconds")
    }).pipe(
      Effect.provide(context)
    )
    const client = yield* Effect.provide(KieClient, context)
    const submit = client.createTask({
      model: kling26.slug,
      input: kling26.buildInput({ imageUrl: "https://example.com/a.jpg", prompt: "waves", durationSeconds: 5 })
    })
    return { alerts, breaker, client, submit }
  })

describe("KIE circuit breaker", () => {
  it.scoped("opens on an operator error, holds new submissions, and closes after a good probe", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", credits: 10 })
      const { alerts, breaker, submit } = yield* setup(sim)

      const first = yield* Effect.exit(breaker.guard(submit))
      expect(Exit.isFailure(first)).toBe(true)
      expect(yield* breaker.state).toMatchObject({ _tag: "Open", reason: "AccountOutOfCredits" })
      expect(alerts.map((a) => a.subject)).toEqual(["KIE submissions paused"])
      expect(alerts[0]!.error?._tag).toBe("KieOperatorError")

      const attemptsBefore = sim.createAttempts().length
      const waiting = yield* Effect.fork(breaker.guard(submit))

      // No probe before 15 s; the first two see a balance still too low.
      yield* TestClock.adjust("14 seconds")
      expect(yield* failedProbes(breaker)).toBe(0)
      yield* TestClock.adjust("1 second")
      yield* eventually(Effect.map(failedProbes(breaker), (n) => n === 1))
      yield* TestClock.adjust("15 seconds")
      yield* eventually(Effect.map(failedProbes(breaker), (n) => n === 2))
      expect(yield* breaker.isOpen).toBe(true)
      // The waiting submission has not reached KIE while the breaker was open.
      expect(sim.createAttempts()).toHaveLength(attemptsBefore)
      expect(waiting.unsafePoll()).toBeNull()

      sim.setCredits(1_000)
      yield* TestClock.adjust("15 seconds")
      const taskId = yield* Fiber.join(waiting)
      expect(taskId).toMatch(/^task_/)
      expect(yield* breaker.state).toEqual({ _tag: "Closed" })
      expect(alerts.map((a) => a.subject)).toEqual(["KIE submissions paused", "KIE is usable again"])
      const gauge = yield* Metric.value(openGauge)
      expect(gauge.value).toBe(0)
    }))

  it.scoped("a bad key opens it too, and one outage alerts once however many calls fail", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual" })
      const { alerts, breaker, client, submit } = yield* setup(sim)
      sim.setFaults({
        createTask: [SimFaults.code(401, "You do not have access permissions")],
        recordInfo: [SimFaults.code(401, "You do not have access permissions")]
      })
      yield* Effect.exit(breaker.guard(submit))
      // A poll observed by the breaker fails too, during the same outage.
      const poll = yield* Effect.exit(breaker.observe(client.getTask("task_1")))
      expect(Exit.isFailure(poll)).toBe(true)
      expect(yield* breaker.state).toMatchObject({ _tag: "Open", reason: "BadApiKey" })
      expect(alerts).toHaveLength(1)
    }))

  it.scoped("user, transient and unknown errors leave it closed", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual" })
      const { alerts, breaker, submit } = yield* setup(sim)
      sim.setFaults({
        createTask: [SimFaults.code(429, "slow down"), SimFaults.code(500, "unexpected server error"), SimFaults.code(422, "prompt is not allowed")]
      })
      for (let i = 0; i < 3; i++) yield* Effect.exit(breaker.guard(submit))
      expect(yield* breaker.state).toEqual({ _tag: "Closed" })
      expect(alerts).toHaveLength(0)
      expect(yield* breaker.guard(submit)).toMatch(/^task_/)
    }))

  it.scoped("a refused request shape alerts operators, at most every 10 minutes, but does not pause intake", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual" })
      const { alerts, breaker, submit } = yield* setup(sim)
      const refused = () => SimFaults.code(500, "This field is required")
      sim.setFaults({ createTask: [refused(), refused()] })
      yield* Effect.exit(breaker.guard(submit))
      yield* Effect.exit(breaker.guard(submit))
      expect(yield* breaker.state).toEqual({ _tag: "Closed" })
      expect(alerts.map((a) => a.subject)).toEqual(["KIE refused a request"])
      yield* TestClock.adjust("10 minutes")
      sim.setFaults({ createTask: [refused()] })
      yield* Effect.exit(breaker.guard(submit))
      expect(alerts).toHaveLength(2)
      expect(yield* breaker.guard(submit)).toMatch(/^task_/)
    }))
})
