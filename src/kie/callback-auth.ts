/**
 * Who may wake a job through `POST /kie/callback`. Two independent checks:
 *
 * 1. Always: the callback URL carries `job=<jobId>&token=<HMAC(server secret, jobId)>`.
 *    Only this service can mint the token, and only the job's own createTask request
 *    carries it to KIE, so a guessed or copied job id alone is refused.
 * 2. When KIE_WEBHOOK_HMAC_KEY is set: KIE's own signature, Base64(HMAC-SHA256(key,
 *    taskId + "." + timestamp)) in X-Webhook-Signature, with a timestamp no older than
 *    five minutes. KIE signs only these two values, not the body, which is why an
 *    authentic callback is only a wake-up and the job re-reads the task from recordInfo.
 */
import { Clock, Effect, Option, Redacted } from "effect"
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { AppConfig } from "../config/index.js"

/** KIE names no replay window; five minutes absorbs clock drift and KIE's own delays. */
export const signatureMaxAgeSeconds = 300

const constantTimeEqual = (a: string, b: string) => {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

export const kieSignature = (key: string, taskId: string, timestamp: string) =>
  createHmac("sha256", key).update(`${taskId}.${timestamp}`).digest("base64")

export type SignatureCheck = "ok" | "missing" | "stale" | "mismatch"

export const makeCallbackAuth = (settings: {
  readonly secret: Redacted.Redacted<string>
  readonly webhookHmacKey: Option.Option<Redacted.Redacted<string>>
  readonly publicUrl: Option.Option<string>
}) => {
  const tokenFor = (jobId: string) =>
    createHmac("sha256", Redacted.value(settings.secret)).update(`kie-callback:v1:${jobId}`).digest("base64url")

  /** The URL to give KIE as `callBackUrl` for this job, when callbacks can reach us. */
  const callbackUrl = (jobId: string): Option.Option<string> =>
    Option.map(settings.publicUrl, (base) => {
      const url = new URL(`${base}/kie/callback`)
      url.searchParams.set("job", jobId)
      url.searchParams.set("token", tokenFor(jobId))
      return url.toString()
    })

  const verifyToken = (jobId: string, token: string) => constantTimeEqual(tokenFor(jobId), token)

  const verifySignature = (
    taskId: string,
    timestamp: string | undefined,
    signature: string | undefined
  ): Effect.Effect<SignatureCheck> =>
    Option.match(settings.webhookHmacKey, {
      onNone: () => Effect.succeed<SignatureCheck>("ok"),
      onSome: (key) =>
        Effect.map(Clock.currentTimeMillis, (now): SignatureCheck => {
          if (timestamp === undefined || signature === undefined || !/^\d{1,12}$/.test(timestamp)) return "missing"
          if (Math.abs(Math.floor(now / 1000) - Number(timestamp)) > signatureMaxAgeSeconds) return "stale"
          return constantTimeEqual(kieSignature(Redacted.value(key), taskId, timestamp), signature) ? "ok" : "mismatch"
        })
    })

  return {
    callbackUrl,
    tokenFor,
    verifyToken,
    verifySignature,
    signed: Option.isSome(settings.webhookHmacKey)
  } as const
}

export class KieCallbackAuth extends Effect.Service<KieCallbackAuth>()("app/KieCallbackAuth", {
  effect: Effect.gen(function*() {
    const config = yield* AppConfig
    const secret = yield* Option.match(config.kie.callbackSecret, {
      onSome: Effect.succeed,
      onNone: () =>
        Effect.gen(function*() {
          // Without a shared secret, tokens minted here are unknown to other runners and to
          // this one after a restart; such callbacks are refused and polling finds the result.
          if (Option.isSome(config.publicUrl)) {
            yield* Effect.logWarning(
              "KIE_CALLBACK_SECRET is not set: KIE callbacks only work on this runner until it restarts"
            )
          }
          return Redacted.make(randomBytes(32).toString("base64url"))
        })
    })
    return makeCallbackAuth({ secret, webhookHmacKey: config.kie.webhookHmacKey, publicUrl: config.publicUrl })
  })
}) {}
