/**
 * The key that signs invoice payloads. Every runner must hold the same one, or an invoice
 * sent by one runner is refused at checkout by another. PAYMENTS_SECRET whenever a real bot
 * token is set (src/config/ refuses a token without it); only the sandbox, whose token is
 * its simulator's, derives a key from that token (with a warning), so it works with no setup.
 */
import { ConfigError, Context, Effect, Layer, Option, Redacted } from "effect"
import { createHmac } from "node:crypto"
import { AppConfig, type AppSettings } from "../config/index.js"

export class PaymentSecret extends Context.Tag("app/PaymentSecret")<PaymentSecret, Redacted.Redacted<string>>() {
  static readonly layer = Layer.effect(
    PaymentSecret,
    Effect.flatMap(AppConfig, (settings) => resolvePaymentSecret(settings))
  )
}

export const resolvePaymentSecret = (
  settings: AppSettings
): Effect.Effect<Redacted.Redacted<string>, ConfigError.ConfigError> => {
  const configured = settings.payments.secret
  if (Option.isSome(configured)) return Effect.succeed(configured.value)
  if (settings.nodeEnv === "production") {
    return Effect.fail(ConfigError.MissingData(["PAYMENTS_SECRET"], "PAYMENTS_SECRET must be set in production (it signs invoice payloads)"))
  }
  const seed = Option.match(settings.telegram.botToken, { onNone: () => "sandbox", onSome: Redacted.value })
  const derived = createHmac("sha256", "photo-video-bot/payments").update(seed).digest("base64url")
  return Effect.logWarning("PAYMENTS_SECRET is not set; sandbox invoices are signed with a key derived from the simulator's token").pipe(
    Effect.as(Redacted.make(derived))
  )
}
