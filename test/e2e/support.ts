/**
 * The whole system for end-to-end tests: both simulators on loopback, the runner with its
 * entities, the bot run by the user entities, and the Telegram intake (the polling
 * singleton, or the webhook route on a real HTTP server, and the inbox sweep). Tests act only as Telegram
 * users through the simulator and read what the bot sent.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import type { CallbackQuery, Message } from "grammy/types"
import { EntitiesLive } from "../../src/entities.js"
import { JobCallbackSinkLive } from "../../src/jobs/job-entity.js"
import { HealthRoutes } from "../../src/http/health.js"
import { KieCallbackRoutes } from "../../src/http/kie-callback.js"
import { HttpServerLive } from "../../src/http/router.js"
import { KieServicesLive } from "../../src/kie/index.js"
import type { KieSimOptions } from "../../src/sim/kie/index.js"
import type { Updates } from "../../src/sim/telegram/updates.js"
import type { TelegramSimulator } from "../../src/sim/telegram/index.js"
import { UserUpdatesLive } from "../../src/telegram/bot.js"
import { TelegramApiLive } from "../../src/telegram/api.js"
import { TelegramGatewayLive } from "../../src/telegram/gateway-live.js"
import { InboxSweepLive } from "../../src/telegram/intake/inbox-sweep.js"
import { TelegramPollerLive } from "../../src/telegram/intake/poller.js"
import { RegisterWebhookLive, TelegramWebhookRoutes } from "../../src/telegram/intake/webhook.js"
import { OperatorAlertsLive } from "../../src/alerts/operator-alerts.js"
import type { Dialect } from "../support/database.js"
import { advanceUntil, photoBytes, type Simulators, startSimulators, withTicks } from "../support/job-harness.js"
import { pastStartUp, runnerLayer } from "../support/runner.js"

export const ADMIN_ID = 9000

/** Short KIE phases: a video is ready after 8 virtual seconds, found by the poll at 12.5 s. */
export const quickKie: KieSimOptions = { phases: { waitingMs: 1_000, queuingMs: 1_000, generatingMs: 6_000 } }

// Ports below the ephemeral range, so an outgoing connection cannot take one first.
export { freePort } from "../../src/sim/runner-process.js"

export const startSystemSimulators = (
  dialect: Dialect,
  options: { readonly env?: Record<string, string>; readonly kie?: KieSimOptions } = {}
) =>
  startSimulators(dialect, {
    kie: options.kie ?? quickKie,
    env: { ADMIN_IDS: String(ADMIN_ID), TELEGRAM_POLL_TIMEOUT: "2", ...options.env }
  })

const outside = KieServicesLive.pipe(
  Layer.provideMerge(OperatorAlertsLive),
  Layer.provideMerge(TelegramGatewayLive),
  Layer.provideMerge(TelegramApiLive)
)

/** The runner as `npm start` assembles it in polling mode, minus the HTTP server (or with `/healthz` and `/readyz`). */
export const pollingSystem = (sims: Simulators, options: { readonly health?: boolean } = {}) =>
  runnerLayer(
    sims.settings,
    Layer.mergeAll(EntitiesLive, TelegramPollerLive.pipe(Layer.provide(EntitiesLive)), InboxSweepLive, options.health === true ? HttpServerLive.pipe(Layer.provide(HealthRoutes)) : Layer.empty).pipe(
      Layer.provideMerge(UserUpdatesLive),
      Layer.provideMerge(outside)
    )
  )

/** Webhook mode with the HTTP server on settings.httpPort. */
export const webhookSystem = (sims: Simulators) =>
  runnerLayer(
    sims.settings,
    Layer.mergeAll(
      EntitiesLive,
      RegisterWebhookLive,
      InboxSweepLive,
      HttpServerLive.pipe(
        Layer.provide([HealthRoutes, KieCallbackRoutes.pipe(Layer.provide(JobCallbackSinkLive)), TelegramWebhookRoutes])
      )
    ).pipe(
      Layer.provideMerge(UserUpdatesLive),
      Layer.provideMerge(outside)
    )
  )

export const inSystem = <A, E>(layer: Layer.Layer<any, any, any>, body: Effect.Effect<A, E, any>) =>
  Effect.gen(function*() {
    yield* pastStartUp
    return yield* body
  }).pipe(Effect.provide(layer)) as Effect.Effect<A, E>

/** What the bot sent to a chat, in order: messages (with later edits applied) and videos. */
export const botMessages = (sim: TelegramSimulator, chatId: number): Array<Message> =>
  sim.chatHistory(chatId).filter((m) => m.sender === "bot" && !m.deleted).map((m) => m.message)

export const textsTo = (sim: TelegramSimulator, chatId: number): Array<string> =>
  botMessages(sim, chatId).map((m) => m.text ?? m.caption ?? "")

/** Moves both clocks a second at a time until `check` holds; fails the test with `what` otherwise. */
export const eventually = (
  sims: Simulators,
  what: string,
  check: () => boolean,
  limit: string = "2 minutes",
  step: string = "1 second"
) =>
  Effect.gen(function*() {
    const ok = yield* advanceUntil(sims.kie, () => Effect.sync(check), limit as any, step as any)
    if (!ok) {
      return yield* Effect.dieMessage(
        `never happened: ${what}\nchat log: ${JSON.stringify(sims.telegram.calls.all().map((c) => [c.method, c.params.text ?? c.params.caption ?? ""]))}`
      )
    }
  })

export const user = (sims: Simulators, id: number, language_code = "en") =>
  sims.telegram.allUsers().some((u) => u.id === id)
    ? sims.telegram.user(id)
    : sims.telegram.createUser({ id, first_name: `User${id}`, language_code })

export const videosTo = (sim: TelegramSimulator, chatId: number) =>
  sim.callsOf("sendVideo").filter((c) => Number(c.params.chat_id) === chatId)

export const hasText = (sim: TelegramSimulator, chatId: number, fragment: string) =>
  textsTo(sim, chatId).some((text) => text.includes(fragment))

export const countText = (sim: TelegramSimulator, chatId: number, fragment: string) =>
  textsTo(sim, chatId).filter((text) => text.includes(fragment)).length

/** The same update queued twice (same update_id), as a Telegram redelivery looks. */
export const pushTwice = (sim: TelegramSimulator, body: Parameters<Updates["push"]>[0]) =>
  (sim as unknown as { readonly updates: Updates }).updates.push(body, 2)

export { photoBytes }

/**
 * A pressed button's answer. The handler may wait on Effect's clock first (a per-chat
 * flood limit before the invoice, say), so TestClock moves while the answer is awaited.
 */
export const answerOf = <A>(answered: Promise<A>) => withTicks(Effect.promise(() => answered))

/** A button press with any data (forged, or from a keyboard the bot never sent) on `message`; its answer. */
export const pressForged = (sim: TelegramSimulator, userId: number, data: string, message: Message) => {
  const callbacks = (sim as unknown as { readonly callbacks: { open: (userId: number) => string } }).callbacks
  const from = sim.user(userId).user
  const query = { id: callbacks.open(userId), from, chat_instance: "forged", data, message } as unknown as CallbackQuery
  sim.pushUpdate({ callback_query: query })
  return answerOf(sim.waitForCallbackAnswer(query.id))
}

/** Every insert into `table` fails with a serialization failure (40001), a transient failure, until the trigger is dropped. */
export const conflictsOn = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe(`CREATE FUNCTION conflicts_on_${table}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$`).pipe(
      Effect.zipRight(sql.unsafe(`CREATE TRIGGER conflicts_on_${table} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION conflicts_on_${table}()`))
    ))
