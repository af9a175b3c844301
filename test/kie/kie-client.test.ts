import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Redacted, Schedule, TestClock } from "effect"
import type { KieError } from "../../src/errors/kie-errors.js"
import { KieClient } from "../../src/kie/kie-client.js"
import { catalog, kling26 } from "../../src/kie/models.js"
import { kieSimulator, type KieSimulator, SimFaults } from "../../src/sim/kie/index.js"

const phases = { waitingMs: 1_000, queuingMs: 1_000, generatingMs: 10_000 }

const withClient = <A, E>(
  sim: KieSimulator,
  use: (client: KieClient) => Effect.Effect<A, E>,
  apiKey = sim.apiKey
) =>
  Effect.flatMap(KieClient, use).pipe(
    Effect.provide(
      KieClient.layerWith({ apiKey: Redacted.make(apiKey), baseUrl: sim.url, uploadBaseUrl: sim.url })
    )
  )

const failure = <A>(effect: Effect.Effect<A, KieError>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail"
      ? Effect.succeed(exit.cause.error)
      : Effect.dieMessage(`expected a KieError, got ${JSON.stringify(exit)}`))

const photo = { bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]), mimeType: "image/jpeg" }

const submit = (client: KieClient, imageUrl: string) =>
  client.createTask({
    model: kling26.slug,
    input: kling26.buildInput({ imageUrl, prompt: "a cat waves", durationSeconds: 5 })
  })

describe("KieClient against the simulator", () => {
  it.scoped("uploads bytes under a unique name and returns the downloadUrl", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      const [first, second] = yield* withClient(sim, (client) =>
        Effect.all([client.uploadFile(photo), client.uploadFile(photo)]))
      expect(first.fileName).not.toBe(second.fileName)
      expect(first.url).toBe(`${sim.url}/files/photo-video-bot/${first.fileName}`)
      expect(sim.uploads().map((u) => u.size)).toEqual([photo.bytes.length, photo.bytes.length])
      const served = yield* Effect.promise(() => fetch(first.url).then((r) => r.arrayBuffer()))
      expect(new Uint8Array(served)).toEqual(photo.bytes)
    }))

  it.scoped("falls back to fileUrl when the upload answer has no downloadUrl", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      sim.setFaults({ uploadAnswersFileUrl: true })
      const uploaded = yield* withClient(sim, (client) => client.uploadFile(photo))
      expect(uploaded.url).toBe(`${sim.url}/files/photo-video-bot/${uploaded.fileName}`)
    }))

  it.scoped("creates a task and follows it to success", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      yield* withClient(sim, (client) =>
        Effect.gen(function*() {
          const { url } = yield* client.uploadFile(photo)
          const taskId = yield* submit(client, url)
          expect(sim.task(taskId)?.input).toEqual({ prompt: "a cat waves", image_urls: [url], sound: false, duration: "5" })

          const pending = yield* client.getTask(taskId)
          expect(pending).toMatchObject({ _tag: "Pending", state: "waiting" })
          yield* Effect.promise(() => sim.advance(1_500))
          expect(yield* client.getTask(taskId)).toMatchObject({ _tag: "Pending", state: "queuing" })
          yield* Effect.promise(() => sim.advance(10_500))
          const done = yield* client.getTask(taskId)
          expect(done).toMatchObject({
            _tag: "Succeeded",
            resultUrls: [`${sim.url}/results/${taskId}.mp4`],
            creditsConsumed: Option.some(55),
            elapsedMillis: Option.some(12_000)
          })
        }))
    }))

  it.scoped("accepts resultJson as an object and `message` instead of `msg`", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      sim.setFaults({ resultJsonAsObject: true, envelopeUsesMessage: true })
      const task = yield* withClient(sim, (client) =>
        Effect.gen(function*() {
          const taskId = yield* submit(client, "https://example.com/a.jpg")
          yield* Effect.promise(() => sim.advance(20_000))
          return yield* client.getTask(taskId)
        }))
      expect(task._tag).toBe("Succeeded")
    }))

  it.scoped("every catalog model's input is accepted by KIE's field rules", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      yield* withClient(sim, (client) =>
        Effect.forEach(catalog, (model) =>
          Effect.forEach(model.durations, (durationSeconds) =>
            client.createTask({
              model: model.slug,
              input: model.buildInput({ imageUrl: "https://example.com/a.jpg", prompt: "waves", durationSeconds })
            }))))
      expect(sim.tasks().length).toBe(catalog.reduce((n, model) => n + model.durations.length, 0))
    }))

  it.scoped("a wrong field name is refused (422) and classified as our bug", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      const error = yield* withClient(sim, (client) =>
        failure(client.createTask({
          model: kling26.slug,
          input: { prompt: "x", image_url: "https://example.com/a.jpg", duration: 5 }
        })))
      expect(error).toMatchObject({ _tag: "KieOperatorError", reason: "InvalidRequest", code: 422, status: 200 })
    }))

  it.scoped("a wrong key is an operator error although KIE answers HTTP 200, and the key is not in it", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      const error = yield* withClient(sim, (client) => failure(client.getCredits()), "wrong-key-123")
      expect(error).toMatchObject({ _tag: "KieOperatorError", reason: "BadApiKey", code: 401, status: 200 })
      expect(JSON.stringify(error)).not.toContain("wrong-key-123")
      expect(String(error)).not.toContain("wrong-key-123")
    }))

  it.scoped("an unknown model slug is an operator error", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      const error = yield* withClient(sim, (client) => failure(client.createTask({ model: "kling-9/nope", input: {} })))
      expect(error).toMatchObject({ _tag: "KieOperatorError", reason: "UnknownModel" })
    }))

  it.scoped("an account out of credits answers 402: an operator error, and no task", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases, credits: 10 })
      const error = yield* withClient(sim, (client) => failure(submit(client, "https://example.com/a.jpg")))
      expect(error).toMatchObject({ _tag: "KieOperatorError", reason: "AccountOutOfCredits", code: 402 })
      expect(sim.tasks()).toHaveLength(0)
    }))

  it.scoped("injected codes on create and get are classified", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      sim.setFaults({
        createTask: [...SimFaults.rateLimited(1), SimFaults.code(455, "maintenance"), SimFaults.code(505, "disabled")],
        recordInfo: [SimFaults.code(500, "This field is required")]
      })
      const errors = yield* withClient(sim, (client) =>
        Effect.all([
          failure(submit(client, "https://example.com/a.jpg")),
          failure(submit(client, "https://example.com/a.jpg")),
          failure(submit(client, "https://example.com/a.jpg")),
          failure(client.getTask("task_x"))
        ]))
      expect(errors.map((e) => `${e._tag}/${e.reason}`)).toEqual([
        "KieTransientError/RateLimited",
        "KieTransientError/Maintenance",
        "KieOperatorError/ModelDisabled",
        "KieOperatorError/InvalidRequest"
      ])
    }))

  it.scoped("'recordInfo is null' is tolerated right after creation, then means lost", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      sim.setFaults({ invisibleForMs: 5_000 })
      const [fresh, old] = yield* withClient(sim, (client) =>
        Effect.gen(function*() {
          const taskId = yield* submit(client, "https://example.com/a.jpg")
          yield* TestClock.setTime(10_000)
          const fresh = yield* failure(client.getTask(taskId, { createdAt: 9_000 }))
          const old = yield* failure(client.getTask("task_gone", { createdAt: 0 - 60_000 }))
          return [fresh, old] as const
        }))
      expect(fresh).toMatchObject({ _tag: "KieTransientError", reason: "TaskNotYetVisible", code: 422 })
      expect(old).toMatchObject({ _tag: "KieUnknownError", reason: "TaskLost" })
    }))

  it.scoped("a malformed answer is a typed error carrying the raw text", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      sim.setFaults({
        createTask: [{ _tag: "Raw", httpStatus: 200, body: "<html>upstream exploded</html>" }],
        recordInfo: [{ _tag: "Raw", httpStatus: 200, body: `{"code":200,"msg":"success","data":{"state":"weird"}}` }]
      })
      const [create, get] = yield* withClient(sim, (client) =>
        Effect.all([failure(submit(client, "https://example.com/a.jpg")), failure(client.getTask("t"))]))
      expect(create).toMatchObject({ _tag: "KieUnknownError", reason: "MalformedAnswer", raw: "<html>upstream exploded</html>" })
      expect(get).toMatchObject({ _tag: "KieUnknownError", reason: "MalformedAnswer" })
      expect(get.raw).toContain("weird")
    }))

  it.scoped("a slow answer times out: transient for a poll, outcome unknown for a submission", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      sim.setFaults({ recordInfo: [SimFaults.hang], createTask: [SimFaults.hang] })
      const [poll, create] = yield* withClient(sim, (client) =>
        Effect.gen(function*() {
          const poll = yield* Effect.fork(failure(client.getTask("t")))
          const create = yield* Effect.fork(failure(submit(client, "https://example.com/a.jpg")))
          yield* TestClock.adjust("15 seconds")
          const pollError = yield* Fiber.join(poll)
          yield* TestClock.adjust("15 seconds")
          return [pollError, yield* Fiber.join(create)] as const
        }))
      expect(poll).toMatchObject({ _tag: "KieTransientError", reason: "Timeout" })
      expect(create).toMatchObject({ _tag: "KieUnknownError", reason: "SubmitOutcomeUnknown" })
    }))

  it.scoped("a refused connection is transient", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      yield* Effect.promise(() => sim.close())
      const error = yield* withClient(sim, (client) => failure(submit(client, "https://example.com/a.jpg")))
      expect(error).toMatchObject({ _tag: "KieTransientError", reason: "Transport" })
    }))

  it.scoped("failed generations are classified from failCode/failMsg", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      sim.setFaults({ outcomes: [SimFaults.outcomes.contentPolicy, SimFaults.outcomes.generationFailed, SimFaults.outcomes.unexplained] })
      const results = yield* withClient(sim, (client) =>
        Effect.gen(function*() {
          const ids = yield* Effect.all([1, 2, 3].map(() => submit(client, "https://example.com/a.jpg")))
          yield* Effect.promise(() => sim.advance(20_000))
          return yield* Effect.forEach(ids, (id) => client.getTask(id))
        }))
      expect(results.map((r) => r._tag === "Failed" ? `${r.error._tag}/${r.error.reason}` : r._tag)).toEqual([
        "KieUserError/ContentPolicy",
        "KieTransientError/GenerationBusy",
        "KieUnknownError/GenerationFailed"
      ])
    }))

  it.scoped("a stuck task stays pending however long we wait", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      sim.setFaults({ outcomes: [SimFaults.outcomes.stuck] })
      const task = yield* withClient(sim, (client) =>
        Effect.gen(function*() {
          const id = yield* submit(client, "https://example.com/a.jpg")
          yield* Effect.promise(() => sim.advance(3_600_000))
          return yield* client.getTask(id)
        }))
      expect(task).toMatchObject({ _tag: "Pending", state: "waiting" })
    }))

  it.scoped("reads the account's credits", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases, credits: 1234.5 })
      expect(yield* withClient(sim, (client) => client.getCredits())).toBe(1234.5)
    }))

  it.scoped("the simulator itself enforces KIE's 20 per 10 s and drops the excess", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases })
      const outcomes = yield* withClient(sim, (client) =>
        Effect.forEach(Array.from({ length: 21 }), () => Effect.either(submit(client, "https://example.com/a.jpg"))))
      expect(outcomes.filter((o) => o._tag === "Right")).toHaveLength(20)
      expect(outcomes[20]).toMatchObject({ _tag: "Left", left: { reason: "RateLimited" } })
    }))

  it.scopedLive("runs on real time too, as the sandbox and the benchmarks use it", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ phases: { waitingMs: 20, queuingMs: 20, generatingMs: 40 } })
      const task = yield* withClient(sim, (client) =>
        Effect.gen(function*() {
          const taskId = yield* submit(client, "https://example.com/a.jpg")
          return yield* client.getTask(taskId).pipe(
            Effect.filterOrFail((task) => task._tag !== "Pending"),
            Effect.retry({ schedule: Schedule.spaced("25 millis"), times: 200 })
          )
        }))
      expect(task._tag).toBe("Succeeded")
    }))
})
