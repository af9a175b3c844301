import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { kieSimulator, type KieSimulator, SimFaults } from "../../src/sim/kie/index.js"

const call = (sim: KieSimulator, path: string, init: RequestInit = {}, auth = true) =>
  Effect.promise(() =>
    fetch(`${sim.url}${path}`, {
      ...init,
      headers: {
        "user-agent": "sim-test",
        "content-type": "application/json",
        ...(auth ? { authorization: `Bearer ${sim.apiKey}` } : {}),
        ...init.headers
      }
    }).then(async (response) => ({ status: response.status, text: await response.text() }))
  )

/** A bare callback receiver that records what KIE would send. */
const receiver = Effect.acquireRelease(
  Effect.promise(async () => {
    const received: Array<{ headers: Record<string, unknown>; body: unknown }> = []
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) })
        res.end("{}")
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return { server, received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb` }
  }),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
)

const createBody = (callBackUrl?: string) =>
  JSON.stringify({
    model: "wan/2-5-image-to-video",
    input: { prompt: "waves", image_url: "https://example.com/a.jpg", duration: "5", resolution: "720p" },
    ...(callBackUrl === undefined ? {} : { callBackUrl })
  })

describe("KIE simulator", () => {
  it.scoped("accepts base64 uploads, data URLs included, and serves the file", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual" })
      const answer = yield* call(sim, "/api/file-base64-upload", {
        method: "POST",
        body: JSON.stringify({ base64Data: `data:image/png;base64,${Buffer.from("png!").toString("base64")}`, uploadPath: "p", fileName: "a.png" })
      })
      const data = JSON.parse(answer.text).data
      expect(data.downloadUrl).toBe(`${sim.url}/files/p/a.png`)
      const served = yield* Effect.promise(() => fetch(data.downloadUrl).then((r) => r.text()))
      expect(served).toBe("png!")
      expect(sim.uploads()).toEqual([{ path: "p/a.png", size: 4, mimeType: "image/png" }])
    }))

  it.scoped("answers like Cloudflare without a User-Agent and like KIE without a key", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual" })
      const noAgent = yield* Effect.promise(() => fetch(`${sim.url}/api/v1/chat/credit`, { headers: { "user-agent": "" } }))
      expect(noAgent.status).toBe(403)
      expect(yield* Effect.promise(() => noAgent.text())).toBe("error code: 1010")
      const noKey = yield* call(sim, "/api/v1/chat/credit", {}, false)
      expect(noKey.status).toBe(200)
      expect(JSON.parse(noKey.text)).toMatchObject({ code: 401 })
    }))

  it.scoped("validates createTask: missing fields, unknown callBackUrl shapes, unknown task ids", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual" })
      const bad = yield* call(sim, "/api/v1/jobs/createTask", {
        method: "POST",
        body: JSON.stringify({ model: "wan/2-5-image-to-video", input: { prompt: "x", image_urls: ["https://e/a.jpg"], duration: "5" } })
      })
      expect(JSON.parse(bad.text)).toMatchObject({ code: 422, msg: "image_url is required" })
      const badCallback = yield* call(sim, "/api/v1/jobs/createTask", { method: "POST", body: createBody("ftp://x") })
      expect(JSON.parse(badCallback.text)).toMatchObject({ code: 422 })
      const missing = yield* call(sim, "/api/v1/jobs/recordInfo")
      expect(JSON.parse(missing.text)).toMatchObject({ code: 400 })
      const unknown = yield* call(sim, "/api/v1/jobs/recordInfo?taskId=nope")
      expect(JSON.parse(unknown.text)).toMatchObject({ code: 422, msg: "recordInfo is null", data: null })
    }))

  it.scoped("a photo URL on the simulator that was never uploaded fails the task like KIE's fetch", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual" })
      const created = yield* call(sim, "/api/v1/jobs/createTask", {
        method: "POST",
        body: JSON.stringify({
          model: "wan/2-5-image-to-video",
          input: { prompt: "x", image_url: `${sim.url}/files/gone.jpg`, duration: "5" }
        })
      })
      const taskId = JSON.parse(created.text).data.taskId
      yield* Effect.promise(() => sim.advance(60_000))
      expect(sim.task(taskId)).toMatchObject({ state: "fail", outcome: { failMsg: "Get image info failed" } })
    }))

  it.scoped("sends the market callback shape, signed, and can lose or duplicate it", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", webhookHmacKey: "k", startTime: 1_700_000_000_000 })
      const target = yield* receiver
      const submit = Effect.map(
        call(sim, "/api/v1/jobs/createTask", { method: "POST", body: createBody(target.url) }),
        (r) => JSON.parse(r.text).data.taskId as string
      )
      const delivered = yield* submit
      sim.setFaults({ outcomes: [SimFaults.outcomes.generationFailed] })
      const failed = yield* submit
      yield* Effect.promise(() => sim.advance(60_000))
      expect(target.received).toHaveLength(2)
      const success = target.received.find((r) => (r.body as { data: { taskId: string } }).data.taskId === delivered)!
      expect(success.body).toMatchObject({ code: 200, msg: "Playground task completed successfully.", data: { state: "success" } })
      expect(JSON.parse((success.body as { data: { resultJson: string } }).data.resultJson)).toEqual({
        resultUrls: [`${sim.url}/results/${delivered}.mp4`]
      })
      expect(success.headers["x-webhook-timestamp"]).toBe("1700000060")
      expect(success.headers["x-webhook-signature"]).toMatch(/^[A-Za-z0-9+/]+=*$/)
      const failure = target.received.find((r) => (r.body as { data: { taskId: string } }).data.taskId === failed)!
      expect(failure.body).toMatchObject({ code: 501, data: { state: "fail", failCode: "500", consumeCredits: 0 } })

      sim.setFaults({ callbacks: "lose" })
      const lost = yield* submit
      sim.setFaults({ callbacks: "duplicate" })
      const twice = yield* submit
      yield* Effect.promise(() => sim.advance(60_000))
      expect(sim.callbacks().filter((c) => c.taskId === lost).map((c) => c.status)).toEqual(["lost"])
      expect(sim.callbacks().filter((c) => c.taskId === twice).map((c) => c.status)).toEqual([200, 200])
      // The task was still completed: a poller finds what the lost callback did not say.
      expect(sim.task(lost)?.state).toBe("success")
    }))
})
