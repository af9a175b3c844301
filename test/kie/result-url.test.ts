/**
 * A finished task's result URL is KIE's word; fetching it is the runner's act. Only https on
 * KIE's result hosts, or the configured KIE roots' origin, is ever fetched.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { AppConfig } from "../../src/config/index.js"
import { KieClient } from "../../src/kie/kie-client.js"
import { kling26 } from "../../src/kie/models.js"
import { defaultResultHosts, untrustedResultUrl } from "../../src/kie/result-url.js"
import { kieSimulator } from "../../src/sim/kie/index.js"
import { advanceUntil, inRunner, quickGeneration, reaches, sendPhotoAndStart, startSimulators } from "../support/job-harness.js"

const policy = { hosts: defaultResultHosts, configuredRoots: ["http://127.0.0.1:4010", "http://127.0.0.1:4011"] }

describe("which result URLs may be fetched", () => {
  it.each([
    "https://tempfile.aiquickdraw.com/f/abc.mp4",
    "https://tempfile.redpandaai.co/kieai/1/abc.mp4",
    "https://file.kie.ai/abc.mp4",
    "https://aiquickdraw.com/abc.mp4",
    "http://127.0.0.1:4010/results/abc.mp4",
    "http://127.0.0.1:4011/files/abc.mp4"
  ])("fetches %s", (url) => {
    expect(untrustedResultUrl(url, policy)).toBeUndefined()
  })

  it.each([
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254 is http"],
    ["https://169.254.169.254/latest/meta-data/", "host 169.254.169.254 is not one of KIE's"],
    ["http://tempfile.aiquickdraw.com/abc.mp4", "is http, not https"],
    ["https://aiquickdraw.com.evil.example/abc.mp4", "is not one of KIE's"],
    ["https://evilaiquickdraw.com/abc.mp4", "is not one of KIE's"],
    ["https://tempfile.aiquickdraw.com:8443/abc.mp4", "tempfile.aiquickdraw.com:8443 is not one of KIE's"],
    ["https://user:pass@tempfile.aiquickdraw.com/abc.mp4", "carries credentials"],
    ["http://127.0.0.1:4012/results/abc.mp4", "127.0.0.1 is http"],
    ["http://localhost:4010/results/abc.mp4", "localhost is http"],
    ["file:///etc/passwd", "is file, not https"],
    ["not a url", "not a URL"]
  ])("refuses %s", (url, why) => {
    expect(untrustedResultUrl(url, policy)).toContain(why)
  })

  it.effect("KIE_RESULT_HOSTS replaces the list; a malformed one is a start-up error", () =>
    Effect.gen(function*() {
      const settings = yield* AppConfig.fromEnv({ KIE_RESULT_HOSTS: "cdn.example.com, Files.Example.org" })
      expect(settings.kie.resultHosts).toEqual(["cdn.example.com", "files.example.org"])
      expect((yield* AppConfig.fromEnv({})).kie.resultHosts).toEqual(defaultResultHosts)
      const refused = yield* Effect.flip(AppConfig.fromEnv({ KIE_RESULT_HOSTS: "https://cdn.example.com/" }))
      expect(String(refused)).toContain("KIE_RESULT_HOSTS must be a comma-separated list of host names")
    }))

  it.scoped("the client turns a finished task whose video is elsewhere into a failed task, an operator error", () =>
    Effect.gen(function*() {
      const sim = yield* kieSimulator({ clock: "manual", phases: { waitingMs: 1_000, queuingMs: 1_000, generatingMs: 1_000 } })
      const client = yield* Effect.provide(
        KieClient,
        KieClient.layerWith({ apiKey: Redacted.make(sim.apiKey), baseUrl: sim.url, uploadBaseUrl: sim.url })
      )
      const photo = yield* client.uploadFile({ bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2]), mimeType: "image/jpeg" })
      const submit = client.createTask({
        model: kling26.slug,
        input: kling26.buildInput({ imageUrl: photo.url, prompt: "waves", durationSeconds: 5 })
      })
      const taskId = yield* submit
      yield* Effect.promise(() => sim.advance(5_000))
      sim.setFaults({ resultUrlBase: "http://169.254.169.254/latest" })
      expect(yield* client.getTask(taskId)).toMatchObject({
        _tag: "Failed",
        error: { _tag: "KieOperatorError", reason: "UntrustedResultUrl", taskId }
      })
      sim.setFaults({ resultUrlBase: "https://tempfile.aiquickdraw.com/kie" })
      expect(yield* client.getTask(taskId)).toMatchObject({
        _tag: "Succeeded",
        resultUrls: [`https://tempfile.aiquickdraw.com/kie/${taskId}.mp4`]
      })
    }))

  it.scoped("a job whose result URL is elsewhere is refunded and explained, and nothing fetches the URL", () =>
    Effect.gen(function*() {
      // Stands where KIE's answer points: a loopback server that only counts what reaches it.
      const requests: Array<string> = []
      const elsewhere = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<ReturnType<typeof createServer>>((resolve) => {
            const server = createServer((req, res) => {
              requests.push(`${req.method} ${req.url}`)
              res.writeHead(200, { "content-type": "video/mp4", "content-length": 4 }).end("mp4!")
            })
            server.listen(0, "127.0.0.1", () => resolve(server))
          })
        ),
        (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      )
      const sims = yield* startSimulators("sqlite", quickGeneration)
      sims.kie.setFaults({ resultUrlBase: `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/latest` })
      yield* inRunner(sims, Effect.gen(function*() {
        const started = yield* sendPhotoAndStart(sims, 6101)
        assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "refunded"), "6 minutes"))
        assert.deepStrictEqual(requests, [])
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, 0)
        const told = sims.telegram.callsOf("sendMessage").filter((call) => Number(call.params.chat_id) === 6101).at(-1)
        assert.include(String(told?.params.text), "Your credit is back")
        const sql = yield* SqlClient.SqlClient
        const [job] = yield* sql<{ error_class: string; error_detail: string; result_url: string | null }>`
          SELECT error_class, error_detail, result_url FROM jobs WHERE id = ${started.jobId}`
        assert.deepStrictEqual(job, { error_class: "KieOperatorError", error_detail: "UntrustedResultUrl", result_url: null })
        const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE job_id = ${started.jobId} ORDER BY id`
        assert.deepStrictEqual(kinds.map((row) => row.kind), ["reserve", "refund"])
        // One task: a result KIE placed elsewhere is not resubmitted.
        assert.strictEqual(sims.kie.tasks().length, 1)
      }))
    }), 120_000)
})
