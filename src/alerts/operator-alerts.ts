/**
 * How operators hear that something needs a human: KIE refusing the key or the account
 * empty, a job whose driver keeps failing, a payment the books cannot explain. Every alert
 * is a log line at error level and a Telegram message to each ADMIN_IDS user.
 */
import { Context, Effect, Layer, LogLevel } from "effect"
import { AppConfig } from "../config/index.js"
import type { KieError } from "../errors/kie-errors.js"
import { operatorTexts } from "../i18n/operator.js"
import { logFailure } from "../observability/error-summary.js"
import { TelegramGateway } from "../telegram/gateway.js"

export interface OperatorAlert {
  readonly subject: string
  readonly detail: string
  readonly error?: KieError | undefined
}

const logAlert = (alert: OperatorAlert) =>
  Effect.logError(`OPERATOR ALERT: ${alert.subject}: ${alert.detail}`).pipe(
    Effect.annotateLogs({
      alert: alert.subject,
      ...(alert.error === undefined ? {} : { kieError: alert.error._tag, reason: alert.error.reason })
    })
  )

/** A Tag rather than a service with one implementation: tests record alerts instead. */
export class OperatorAlerts extends Context.Tag("app/OperatorAlerts")<OperatorAlerts, {
  readonly alert: (alert: OperatorAlert) => Effect.Effect<void>
}>() {
  /** The log line only, for compositions without Telegram. */
  static readonly Log = Layer.succeed(OperatorAlerts, { alert: logAlert })
}

/** The log line, then a message to every admin (none configured: the log line is all). */
export const OperatorAlertsLive = Layer.effect(
  OperatorAlerts,
  Effect.gen(function*() {
    const { adminIds } = yield* AppConfig
    const gateway = yield* TelegramGateway
    return {
      alert: (alert) =>
        Effect.gen(function*() {
          yield* logAlert(alert)
          const text = operatorTexts.alert(alert.subject, alert.detail)
          yield* Effect.forEach(adminIds, (adminId) =>
            gateway.sendMessage(adminId, text).pipe(
              Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not alert an admin on Telegram", error)),
              Effect.annotateLogs({ adminId })
            ), { discard: true })
        })
    }
  })
)
