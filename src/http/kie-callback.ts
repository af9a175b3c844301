/**
 * `POST /kie/callback`: KIE's notice that a task finished. Authenticated by the per-job
 * token in the URL and, when enabled, KIE's signature (src/kie/callback-auth.ts); anything
 * else gets 401 and changes nothing. An authentic callback is handed to the job as a
 * wake-up, once: KIE may send the same callback twice, and a replay of a captured one
 * inside the signature window looks the same, so both are acknowledged and dropped.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Effect } from "effect"
import { KieCallbackAuth } from "../kie/callback-auth.js"
import { KieCallbackSink } from "../kie/callback-sink.js"
import { AppRouter } from "./router.js"

// Longer than KIE's plausible redelivery delay and the signature window. A duplicate that
// reaches another runner, or arrives later, is one more wake-up: the job re-reads the
// task from recordInfo and its transition happens once, so that is harmless.
const rememberMillis = 60 * 60 * 1000
const rememberAtMost = 100_000
const maxBodyChars = 1_000_000

/** Which (job, task) callbacks were already delivered; a Map keeps insertion order for eviction. */
const makeDeliveredSet = () => {
  const delivered = new Map<string, number>()
  return {
    /** True when the key was new and is now claimed; check-and-set is one synchronous step. */
    claim: (key: string, now: number) =>
      Effect.sync(() => {
        const at = delivered.get(key)
        if (at !== undefined && now - at < rememberMillis) return false
        delivered.delete(key)
        delivered.set(key, now)
        for (const [oldest, time] of delivered) {
          if (delivered.size <= rememberAtMost && now - time < rememberMillis) break
          delivered.delete(oldest)
        }
        return true
      }),
    release: (key: string) => Effect.sync(() => delivered.delete(key))
  }
}

// KIE's market callbacks use data.taskId, the signature sample data.task_id,
// one reported shape a top-level taskId.
const taskIdOf = (body: unknown): string | undefined => {
  if (typeof body !== "object" || body === null) return undefined
  const record = body as Record<string, unknown>
  const data = typeof record.data === "object" && record.data !== null ? record.data as Record<string, unknown> : {}
  for (const candidate of [data.taskId, data.task_id, record.taskId]) {
    if (typeof candidate === "string" && candidate !== "") return candidate
  }
  return undefined
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const answer = (status: number, msg: string) => HttpServerResponse.unsafeJson({ code: status, msg }, { status })

export const KieCallbackRoutes = AppRouter.use((router) =>
  Effect.gen(function*() {
    const auth = yield* KieCallbackAuth
    const sink = yield* KieCallbackSink
    const delivered = makeDeliveredSet()

    yield* router.post(
      "/kie/callback",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const query = new URL(request.url, "http://callback.local").searchParams
        const jobId = query.get("job") ?? ""
        const token = query.get("token") ?? ""
        // Claimed, not yet verified, so cut short: it names the job on the route's lines.
        return yield* Effect.gen(function*() {
          if (jobId === "" || token === "" || !auth.verifyToken(jobId, token)) {
            return answer(401, "unauthorized")
          }

          const text = yield* request.text
          if (text.length > maxBodyChars) return answer(413, "too large")
          const taskId = taskIdOf(parseJson(text))
          if (taskId === undefined) return answer(400, "no task id")

          const signature = yield* auth.verifySignature(
            taskId,
            request.headers["x-webhook-timestamp"],
            request.headers["x-webhook-signature"]
          )
          if (signature !== "ok") {
            yield* Effect.logWarning(`refused a KIE callback: signature ${signature}`)
            return answer(401, "unauthorized")
          }

          const key = `${jobId}\u0000${taskId}`
          const now = yield* Clock.currentTimeMillis
          if (!(yield* delivered.claim(key, now))) return answer(200, "duplicate")

          return yield* sink.wake({ jobId, taskId }).pipe(
            Effect.as(answer(200, "success")),
            // KIE may try again; the claim is released so that its retry is delivered.
            Effect.catchAllCause((cause) =>
              delivered.release(key).pipe(
                Effect.zipRight(Effect.logError("KIE callback could not be handed to the job", cause)),
                Effect.as(answer(500, "try again"))
              )
            )
          )
        }).pipe(Effect.annotateLogs({ jobId: jobId.slice(0, 64) }))
      }).pipe(
        // Reading fails past the body cap (src/http/router.ts), or when the sender left.
        Effect.catchTag("RequestError", () => Effect.succeed(answer(413, "too large"))),
        Effect.withSpan("KieCallback.handle")
      )
    )
  })
)
