/**
 * The payments feature for tests: the real PaymentService on the real runner, talking to
 * the Telegram simulator, alone (operator alerts recorded so tests can read them) or
 * behind the real bot.
 */
import { assert } from "@effect/vitest"
import { Effect, Layer, Ref } from "effect"
import type { AppSettings } from "../../src/config/index.js"
import { UserId } from "../../src/domain/ids.js"
import { type OperatorAlert, OperatorAlerts, OperatorAlertsLive } from "../../src/alerts/operator-alerts.js"
import { PaymentsLive } from "../../src/payments/index.js"
import { UserUpdatesLive } from "../../src/telegram/bot.js"
import { CreditLedger } from "../../src/storage/credit-ledger.js"
import { TelegramApiLive } from "../../src/telegram/api.js"
import { TelegramGatewayLive } from "../../src/telegram/gateway-live.js"
import { InboxSweepLive } from "../../src/telegram/intake/inbox-sweep.js"
import { TelegramPollerLive } from "../../src/telegram/intake/poller.js"
import { eventually } from "../e2e/support.js"
import type { Simulators } from "./job-harness.js"
import { LedgerOnlyActors, runnerLayer } from "./runner.js"

export class RecordedAlerts extends Effect.Service<RecordedAlerts>()("test/RecordedAlerts", {
  effect: Ref.make<ReadonlyArray<OperatorAlert>>([]).pipe(Effect.map((alerts) => ({ alerts })))
}) {}

const RecordingAlerts = Layer.effect(
  OperatorAlerts,
  Effect.map(RecordedAlerts, ({ alerts }) => ({ alert: (alert: OperatorAlert) => Ref.update(alerts, (all) => [...all, alert]) }))
).pipe(Layer.provideMerge(RecordedAlerts.Default))

/** The ledger entities, the payment services and the gateway on a runner of `settings`. */
export const paymentsRunner = (settings: AppSettings) =>
  runnerLayer(
    settings,
    Layer.mergeAll(LedgerOnlyActors, PaymentsLive).pipe(
      Layer.provideMerge(TelegramGatewayLive),
      Layer.provideMerge(TelegramApiLive),
      Layer.provideMerge(RecordingAlerts)
    )
  )

/**
 * The runner with the real bot in its user entities, the polling intake and the payment
 * services; the job entity is idle. Admin alerts go to the admins over Telegram.
 */
export const paymentsBotSystem = (settings: AppSettings) =>
  runnerLayer(
    settings,
    Layer.mergeAll(LedgerOnlyActors, TelegramPollerLive.pipe(Layer.provide(LedgerOnlyActors)), InboxSweepLive).pipe(
      Layer.provideMerge(UserUpdatesLive),
      Layer.provideMerge(PaymentsLive),
      Layer.provideMerge(OperatorAlertsLive),
      Layer.provideMerge(TelegramGatewayLive),
      Layer.provideMerge(TelegramApiLive)
    )
  )

/** Moves the clocks until the bot has sent `chatId` a message containing `text`, after call number `since`. */
export const waitForText = (sims: Simulators, chatId: number, text: string, since = 0) =>
  eventually(sims, `"${text}" to ${chatId}`, () =>
    sims.telegram.calls.all().slice(since).some((call) => {
      const result = (call.outcome as { ok: boolean; result?: { chat?: { id: number }; text?: string } }).result
      return call.method === "sendMessage" && call.outcome.ok && result?.chat?.id === chatId && (result.text ?? "").includes(text)
    }))

/** The user's cached balance, checked against the sum of their ledger. */
export const checkBooks = (userId: number) =>
  Effect.gen(function*() {
    const ledger = yield* CreditLedger
    const cached = yield* ledger.balanceOf(UserId.make(userId))
    assert.deepStrictEqual(yield* ledger.ledgerSumOf(UserId.make(userId)), cached)
    return cached
  })
