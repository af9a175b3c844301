/**
 * The Telegram Bot API simulator. Plain use:
 *
 *   const sim = await new TelegramSimulator().start()
 *   const api = new Api(sim.token, { apiRoot: sim.url })
 *   const alice = sim.createUser({ id: 1001, first_name: "Alice", language_code: "en" })
 *   alice.sendPhoto(bytes, { caption: "make it move" })
 *   ...
 *   await sim.stop()
 *
 * From Effect: `TelegramSim.layer(options)` (scoped; stops on release) or `TelegramSimulator.scoped`.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { TelegramSimulator, type TelegramSimulatorOptions } from "./simulator.js"

/** Starts a simulator for the lifetime of the scope. */
export const makeTelegramSimulator = (
  options: TelegramSimulatorOptions = {}
): Effect.Effect<TelegramSimulator, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => new TelegramSimulator(options).start()),
    (simulator) => Effect.promise(() => simulator.stop())
  )

export class TelegramSim extends Context.Tag("sim/TelegramSim")<TelegramSim, TelegramSimulator>() {
  static readonly layer = (options: TelegramSimulatorOptions = {}): Layer.Layer<TelegramSim> =>
    Layer.scoped(TelegramSim, makeTelegramSimulator(options))
}

export { ApiError } from "./api-error.js"
export type { BotCall, CallOutcome } from "./call-log.js"
export type { CallbackAnswer } from "./callback-queries.js"
export type { NewUser, StoredMessage } from "./chats.js"
export type { Fault, FaultSpec } from "./faults.js"
export type { StoredFile } from "./files.js"
export type { FloodControlOptions } from "./flood-control.js"
export { limits } from "./media.js"
export type {
  ForgedInvoice,
  Invoice,
  PastPayment,
  PaymentOutcome,
  PreCheckoutAnswer,
  StarTransaction,
  SuccessfulPaymentDelivery
} from "./payments.js"
export type { InvoiceRef, Pressed, Sent, SimUser } from "./sim-user.js"
export type { Delivery } from "./updates.js"
export { TelegramSimulator, type TelegramSimulatorOptions } from "./simulator.js"
