/**
 * Operator alerts as Telegram messages to every ADMIN_IDS user (and a log line at error
 * level, which is also all that happens when no admin is configured).
 */
import { Effect, Layer, LogLevel } from "effect"
import { logFailure } from "../observability/error-summary.js"
import { AppConfig } from "../config/index.js"
import { operatorTexts } from "../i18n/operator.js"
import { OperatorAlerts } from "../kie/operator-alerts.js"
import { TelegramGateway } from "./gateway.js"

export const TelegramOperatorAlertsLive = Layer.effect(
  OperatorAlerts,
  Effect.gen(function*() {
    const { adminIds } = yield* AppConfig
    const gateway = yield* TelegramGateway
    const log = yield* Effect.provide(OperatorAlerts, OperatorAlerts.Log)
    return {
      alert: (alert) =>
        Effect.gen(function*() {
          yield* log.alert(alert)
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
