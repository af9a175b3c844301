/**
 * The KIE simulator's seeded chaos: task fates fixed by seed and prompt, transient answers
 * at the configured share, callbacks lost or duplicated, and the request-rate record.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { kieSimulator, type KieSimulator } from "../../../src/sim/kie/index.js"
import { TelegramSimulator } from "../../../src/sim/telegram/index.js"

const createTask = (sim: KieSimulator, prompt: string) =>
  Effect.promise(() =>
    fetch(`${sim.url}/api/v1/jobs/createTask`, {
      method: "POST",
      headers: { "user-agent": "sim-test", "content-type": "application/json", authorization: `Bearer ${sim.apiKey}` },
      body: JSON.stringify({
        model: "wan/2-5-image-to-video",
        input: { prompt, image_url: "https://example.com/a.jpg", duration: "5", resolution: "720p" }
      })
    }).then(async (response) => ({ status: response.status, body: await response.text() }))
  )

const fates = (sim: KieSimulator) =>
  sim.tasks().map((task) => `${String(task.input.prompt)}:${task.outcome._tag}:${task.callbackMode}`).sort()

describe("KIE simulator chaos", () => {
  it.scoped("draws transient answers at the configured share and task fates from seed + prompt", () =>
    Effect.gen(function*() {
      const chaos = {
        seed: 11,
        transientRate: 0.2,
        contentPolicyRate: 0.05,
        stuckRate: 0.02,
        loseCallbackRate: 0.1,
        duplicateCallbackRate: 0.1
      }
      const first = yield* kieSimulator({ clock: "manual", rateLimit: false, chaos })
      const prompts = Array.from({ length: 600 }, (_, i) => `scene ${i}`)
      const answers = []
      for (const prompt of prompts) answers.push(yield* createTask(first, prompt))
      const stats = first.chaosStats()
      // 600 draws at 20 % (expected 120): well inside 80–160.
      expect(stats.transientCreateTask).toBeGreaterThan(80)
      expect(stats.transientCreateTask).toBeLessThan(160)
      expect(first.tasks()).toHaveLength(600 - stats.transientCreateTask)
      expect(answers.filter((a) => a.status !== 200 || !a.body.includes("taskId")).length).toBe(stats.transientCreateTask)
      const policy = first.tasks().filter((t) => t.outcome._tag === "Fail").length
      const stuck = first.tasks().filter((t) => t.outcome._tag === "Stuck").length
      expect(policy).toBe(stats.contentPolicy)
      expect(stuck).toBe(stats.stuck)
      expect(policy).toBeGreaterThan(8)
      expect(policy).toBeLessThan(45)
      expect(stuck).toBeGreaterThan(2)
      expect(stuck).toBeLessThan(25)
      expect(first.tasks().filter((t) => t.callbackMode === "lose").length).toBeGreaterThan(25)
      expect(first.tasks().filter((t) => t.callbackMode === "duplicate").length).toBeGreaterThan(25)

      // Same seed, the same prompts created in another order: every prompt meets the same fate.
      const second = yield* kieSimulator({ clock: "manual", rateLimit: false, chaos: { ...chaos, transientRate: 0 } })
      for (const prompt of [...prompts].reverse()) yield* createTask(second, prompt)
      const created = new Set(first.tasks().map((t) => String(t.input.prompt)))
      expect(fates(second).filter((f) => created.has(f.split(":")[0]!))).toEqual(fates(first))

      // A stuck task never finishes; the others do.
      yield* Effect.promise(() => first.advance(60_000))
      expect(first.tasks().filter((t) => t.state !== "success" && t.state !== "fail").length).toBe(stuck)
    }))

  it.scoped("records request arrivals and reports the peak per second and per sliding window", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ rateLimit: false })
      for (let i = 0; i < 5; i++) yield* createTask(sim, `p${i}`)
      const route = "POST /api/v1/jobs/createTask"
      expect(sim.requestTimes(route)).toHaveLength(5)
      const stats = sim.rateStats(route, 10_000)
      expect(stats.total).toBe(5)
      expect(stats.maxPerWindow).toBe(5)
      expect(stats.maxPerSecond).toBeGreaterThanOrEqual(3)
      expect(sim.rateStats("GET /api/v1/jobs/recordInfo").total).toBe(0)
    }))

  it("Bot API faults with a probability hit that share of calls, reproducibly for a seed", async () => {
    const hits = async (seed: number) => {
      const sim = new TelegramSimulator({ faultSeed: seed })
      sim.injectFault({ kind: "server_error", status: 502, method: "sendMessage", probability: 0.3 })
      const outcomes: Array<boolean> = []
      for (let i = 0; i < 200; i++) outcomes.push((await sim.faults.apply("sendMessage", 1)) !== undefined)
      expect(await sim.faults.apply("getMe", 1)).toBeUndefined()
      return outcomes
    }
    const a = await hits(5)
    expect(a.filter(Boolean).length).toBeGreaterThan(40)
    expect(a.filter(Boolean).length).toBeLessThan(80)
    expect(await hits(5)).toEqual(a)
  })
})
