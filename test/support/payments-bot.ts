/**
 * The payments feature for tests: the real PaymentService on the real runner, talking to
 * the Telegram simulator, and a grammY bot holding only the payments composer, fed by a
 * getUpdates loop. Operator alerts are recorded so tests can read them.
 */
import { Effect, FiberSet, Layer, Ref } from "effect"
import { Bot } from "grammy"
import { UserEntity } from "../../src/actors/user-entity.js"
import type { AppSettings } from "../../src/config/index.js"
import { OperatorAlerts, type OperatorAlert } from "../../src/kie/operator-alerts.js"
import { PaymentService, PaymentsLive, UserCredits } from "../../src/payments/index.js"
import { paymentsComposer } from "../../src/payments/payments-composer.js"
import type { TelegramSimulator } from "../../src/sim/telegram/index.js"
import { TelegramGateway } from "../../src/telegram/gateway.js"
import { TelegramGatewayLive } from "../../src/telegram/gateway-live.js"
import { realPause } from "./job-harness.js"
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
      Layer.provideMerge(RecordingAlerts)
    )
  )

/** Starts a bot with the payments composer that polls the simulator until the scope closes. */
export const startPaymentsBot = (sim: TelegramSimulator, adminIds: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const payments = yield* PaymentService
    const gateway = yield* TelegramGateway
    const credits = yield* UserCredits
    const users = yield* UserEntity.client
    const run = yield* FiberSet.makeRuntimePromise<never>()
    const bot = new Bot(sim.token, { botInfo: sim.botInfo, client: { apiRoot: sim.url } })
    bot.use(paymentsComposer({
      payments,
      gateway,
      credits: credits.forUser,
      balanceOf: (userId) => users(String(userId)).GetBalance().pipe(Effect.option),
      adminIds,
      run
    }))
    let offset = 0
    const pump = Effect.gen(function*() {
      const updates = yield* Effect.promise(() => bot.api.getUpdates({ offset, timeout: 0 }))
      for (const update of updates) {
        offset = update.update_id + 1
        yield* Effect.promise(() => bot.handleUpdate(update))
      }
      yield* realPause(10)
    })
    yield* Effect.forkScoped(Effect.forever(pump))
    return bot
  })

/** Waits (real time) for the bot to send `chatId` a message whose text contains `text`. */
export const waitForText = (sim: TelegramSimulator, chatId: number, text: string, since = 0) =>
  Effect.promise(() =>
    sim.waitForCall("sendMessage", {
      since,
      timeoutMs: 15_000,
      predicate: (call) => {
        const result = (call.outcome as { ok: boolean; result?: { chat?: { id: number }; text?: string } }).result
        return call.outcome.ok && result?.chat?.id === chatId && (result.text ?? "").includes(text)
      }
    })
  )
