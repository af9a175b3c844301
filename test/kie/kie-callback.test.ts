import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted, TestClock } from "effect"
import { createServer } from "node:http"
import { KieCallbackRoutes } from "../../src/http/kie-callback.js"
import { AppRouter } from "../../src/http/router.js"
import { KieCallbackAuth, kieSignature, makeCallbackAuth } from "../../src/kie/callback-auth.js"
import { KieCallbackSink, type KieWakeUp } from "../../src/kie/callback-sink.js"
import { KieClient } from "../../src/kie/kie-client.js"
import { kling26 } from "../../src/kie/models.js"
import { kieSimulator, type KieSimOptions } from "../../src/sim/kie/index.js"

const hmacKey = "kie-webhook-key"
const start = Date.UTC(2026, 0, 1)

/** The runner's HTTP server with only the callback route, on a free loopback port. */
const callbackServer = (options: { readonly hmac: boolean; readonly failFirst?: boolean }) =>
  Effect.gen(function*() {
    const wakes: Array<KieWakeUp> = []
    let failures = options.failFirst ? 1 : 0
    const sink = Layer.succeed(KieCallbackSink, {
      wake: (wakeUp) =>
        failures-- > 0 ? Effect.fail("entity unreachable") : Effect.sync(() => wakes.push(wakeUp))
    })
    // The public URL is only known once the port is, so the auth reads it lazily.
    let publicUrl = ""
    const settings = {
      secret: Redacted.make("server-secret"),
      webhookHmacKey: options.hmac ? Option.some(Redacted.make(hmacKey)) : Option.none()
    }
    const authFor = () => makeCallbackAuth({ ...settings, publicUrl: Option.some(publicUrl) })
    const auth = Layer.succeed(KieCallbackAuth, KieCallbackAuth.make(makeCallbackAuth({ ...settings, publicUrl: Option.none() })))
    const context = yield* Layer.build(
      AppRouter.serve().pipe(
        Layer.provide(KieCallbackRoutes.pipe(Layer.provide([auth, sink]))),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    publicUrl = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
    return { wakes, publicUrl, callbackUrl: (jobId: string) => Option.getOrThrow(authFor().callbackUrl(jobId)) }
  })

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })
      .then(async (response) => ({ status: response.status, body: await response.json() as unknown }))
  )

const signed = (taskId: string, atMillis: number, key = hmacKey) => {
  const timestamp = String(Math.floor(atMillis / 1000))
  return { "X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": kieSignature(key, taskId, timestamp) }
}

const body = (taskId: string) => ({ code: 200, msg: "Playground task completed successfully.", data: { taskId, state: "success" } })

/** Creates a task on the simulator whose callBackUrl is the job's, and lets it finish. */
const finishTaskVia = (simOptions: KieSimOptions, callbackUrl: string, callbacks: "deliver" | "duplicate") =>
  Effect.gen(function*() {
    const sim = yield* kieSimulator({ clock: "manual", startTime: start, ...simOptions })
    sim.setFaults({ callbacks })
    const taskId = yield* Effect.flatMap(KieClient, (client) =>
      client.createTask({
        model: kling26.slug,
        input: kling26.buildInput({ imageUrl: "https://example.com/a.jpg", prompt: "waves", durationSeconds: 5 }),
        callBackUrl: callbackUrl
      })).pipe(Effect.provide(KieClient.layerWith({ apiKey: Redacted.make(sim.apiKey), baseUrl: sim.url, uploadBaseUrl: sim.url })))
    yield* Effect.promise(() => sim.advance(60_000))
    return { sim, taskId }
  })

describe("POST /kie/callback", () => {
  it.scoped("a genuine signed callback sent twice by KIE is delivered once", () =>
    Effect.gen(function*() {
      const server = yield* callbackServer({ hmac: true })
      yield* TestClock.setTime(start + 60_000)
      const { sim, taskId } = yield* finishTaskVia({ webhookHmacKey: hmacKey }, server.callbackUrl("job-1"), "duplicate")
      expect(sim.callbacks().map((c) => c.status)).toEqual([200, 200])
      expect(server.wakes).toEqual([{ jobId: "job-1", taskId }])
    }))

  it.scoped("a callback with a timestamp older than five minutes is refused and changes nothing", () =>
    Effect.gen(function*() {
      const server = yield* callbackServer({ hmac: true })
      yield* TestClock.setTime(start + 60_000 + 6 * 60_000)
      const { sim } = yield* finishTaskVia({ webhookHmacKey: hmacKey }, server.callbackUrl("job-1"), "deliver")
      expect(sim.callbacks().map((c) => c.status)).toEqual([401])
      expect(server.wakes).toEqual([])
    }))

  it.scoped("forged callbacks get 401 and change nothing", () =>
    Effect.gen(function*() {
      const server = yield* callbackServer({ hmac: true })
      yield* TestClock.setTime(start)
      const genuine = new URL(server.callbackUrl("job-1"))
      const forged = [
        // no token
        yield* post(`${server.publicUrl}/kie/callback?job=job-1`, body("t1"), signed("t1", start)),
        // a wrong token
        yield* post(`${server.publicUrl}/kie/callback?job=job-1&token=AAAA`, body("t1"), signed("t1", start)),
        // job-1's token used for another job
        yield* post(
          `${server.publicUrl}/kie/callback?job=job-2&token=${genuine.searchParams.get("token")}`,
          body("t1"),
          signed("t1", start)
        ),
        // the right URL without KIE's signature
        yield* post(genuine.toString(), body("t1")),
        // signed with another key
        yield* post(genuine.toString(), body("t1"), signed("t1", start, "not-the-key")),
        // a signature for another task
        yield* post(genuine.toString(), body("t1"), signed("t2", start))
      ]
      expect(forged.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 401])
      expect(server.wakes).toEqual([])

      // The same URL with a proper signature goes through, which shows the refusals were about auth.
      const ok = yield* post(genuine.toString(), body("t1"), signed("t1", start))
      expect(ok.status).toBe(200)
      expect(server.wakes).toEqual([{ jobId: "job-1", taskId: "t1" }])
    }))

  it.scoped("without KIE's signature enabled the per-job token alone authenticates, still once per task", () =>
    Effect.gen(function*() {
      const server = yield* callbackServer({ hmac: false })
      const { taskId } = yield* finishTaskVia({}, server.callbackUrl("job-7"), "duplicate")
      expect(server.wakes).toEqual([{ jobId: "job-7", taskId }])
      const forged = yield* post(`${server.publicUrl}/kie/callback?job=job-7&token=x`, body(taskId))
      expect(forged.status).toBe(401)
      // task id read from data.task_id as in KIE's signature sample
      const snake = yield* post(server.callbackUrl("job-8"), { code: 200, data: { task_id: "t-snake" } })
      expect(snake.status).toBe(200)
      expect(server.wakes).toHaveLength(2)
    }))

  it.scoped("when the job cannot take the wake-up, KIE gets 500 and its retry is delivered", () =>
    Effect.gen(function*() {
      const server = yield* callbackServer({ hmac: false, failFirst: true })
      const first = yield* post(server.callbackUrl("job-3"), body("t3"))
      expect(first.status).toBe(500)
      expect(server.wakes).toEqual([])
      const retry = yield* post(server.callbackUrl("job-3"), body("t3"))
      expect(retry.status).toBe(200)
      expect(server.wakes).toEqual([{ jobId: "job-3", taskId: "t3" }])
    }))
})
