/**
 * Webhook mode: POST /telegram/webhook checks Telegram's secret header (401 otherwise),
 * stores the update in the inbox and only then answers 200, so an update Telegram saw
 * acknowledged is never lost. The webhook is registered with
 * PUBLIC_URL at start-up.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, LogLevel, Option, Redacted, Schedule, Schema } from "effect"
import { logFailure } from "../../observability/error-summary.js"
import { timingSafeEqual } from "node:crypto"
import { TelegramUpdate } from "../../domain/telegram-update.js"
import { AppConfig } from "../../config/index.js"
import { AppRouter, bodyTooLarge } from "../../http/router.js"
import { TelegramInbox } from "../../storage/telegram-inbox.js"
import { TelegramApi } from "../api.js"
import { allowedUpdates, makeHandOver } from "./updates.js"

export const webhookPath = "/telegram/webhook"

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

const decodeUpdate = Schema.decodeUnknown(TelegramUpdate)

const notJson = Symbol("notJson")
const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return notJson
  }
}

export const TelegramWebhookRoutes = AppRouter.use((router) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const handOver = yield* makeHandOver.pipe(Effect.provide(TelegramInbox.Default))
    const secret = Option.map(config.telegram.webhookSecret, Redacted.value)

    yield* router.post(
      webhookPath,
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const given = request.headers["x-telegram-bot-api-secret-token"] ?? ""
        if (Option.isNone(secret) || !sameSecret(given, secret.value)) {
          return HttpServerResponse.text("unauthorized", { status: 401 })
        }
        // Reading fails only past the body cap (src/http/router.ts) or when the sender left.
        const body = yield* request.text.pipe(Effect.option)
        if (Option.isNone(body)) return bodyTooLarge()
        // Telegram always sends JSON: anything else is not from Telegram, whatever its header.
        const json = parseJson(body.value)
        if (json === notJson) return HttpServerResponse.text("malformed JSON", { status: 400 })
        const update = yield* decodeUpdate(json).pipe(Effect.option)
        // JSON that is not an update (a kind this bot does not know) will not become one on
        // a retry, and an unanswered update holds back the next ones: acknowledge and drop it.
        if (Option.isNone(update)) return HttpServerResponse.text("not an update", { status: 200 })
        const stored = yield* handOver([update.value]).pipe(Effect.either)
        if (stored._tag === "Left") {
          yield* logFailure(LogLevel.Error, "could not store a webhook update; Telegram will retry", stored.left)
          return HttpServerResponse.text("retry later", { status: 503 })
        }
        return HttpServerResponse.empty({ status: 200 })
      })
    )
  })
)

/** Points Telegram at PUBLIC_URL/telegram/webhook with the secret; retried until it works. */
export const RegisterWebhookLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const api = yield* TelegramApi
    const url = `${Option.getOrThrow(config.publicUrl)}${webhookPath}`
    const secret = Redacted.value(Option.getOrThrow(config.telegram.webhookSecret))
    yield* Effect.tryPromise(() =>
      api.setWebhook(url, { secret_token: secret, allowed_updates: [...allowedUpdates], max_connections: 40 })
    ).pipe(
      Effect.tapError((error) => logFailure(LogLevel.Error, "setWebhook failed; retrying", error)),
      Effect.retry(Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("1 minute")))),
      Effect.tap(() => Effect.logInfo(`Telegram webhook set to ${url}`)),
      Effect.forkScoped
    )
  })
)
