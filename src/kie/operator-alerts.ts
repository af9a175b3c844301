/**
 * How operators hear that KIE needs a human (bad key, account empty, model gone). The
 * live version logs at error level; the Telegram gateway will provide one that messages
 * ADMIN_IDS, so this is a Tag to swap rather than a service with one implementation.
 */
import { Context, Effect, Layer } from "effect"
import type { KieError } from "../errors/kie-errors.js"

export interface OperatorAlert {
  readonly subject: string
  readonly detail: string
  readonly error?: KieError | undefined
}

export class OperatorAlerts extends Context.Tag("app/OperatorAlerts")<OperatorAlerts, {
  readonly alert: (alert: OperatorAlert) => Effect.Effect<void>
}>() {
  static readonly Log = Layer.succeed(OperatorAlerts, {
    alert: (alert) =>
      Effect.logError(`OPERATOR ALERT: ${alert.subject}: ${alert.detail}`).pipe(
        Effect.annotateLogs({
          alert: alert.subject,
          ...(alert.error === undefined ? {} : { kieError: alert.error._tag, reason: alert.error.reason })
        })
      )
  })
}
