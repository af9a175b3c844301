/**
 * The grammY bot: one per process, run by each user's entity for that user's updates
 * (docs/architecture.md). The intake stores every update in the inbox and wakes the user's
 * entity; the entity calls the handler made here, which runs the grammY middleware chain
 * with `bot.handleUpdate`. One user's updates are therefore handled one at a time, in
 * order, wherever that user's shard lives. The entity's own logic reaches the handlers
 * through the update's context (`ctx.user`), looked up by the update object grammY is given.
 *
 * The middleware, in order: the user's scope and language, first-contact registration, the
 * flood limit, support, the features, and last the answers for whatever no feature took.
 */
import { Cause, Effect, Exit, FiberSet, Layer, LogLevel, Option, Schedule } from "effect"
import { logFailure } from "../observability/error-summary.js"
import { redactorOf, secretValuesIn } from "../observability/redaction.js"
import { type Api, Bot, BotError } from "grammy"
import type { Update, UserFromGetMe } from "grammy/types"
import { JobEntity } from "../protocols/job-protocol.js"
import type { TelegramUpdate } from "../domain/telegram-update.js"
import { UserEntity, type UserNotice, type UserOps, UserUpdates } from "../protocols/user-protocol.js"
import type { UserId } from "../domain/ids.js"
import { AppConfig } from "../config/index.js"
import { languageOf, messagesFor } from "../i18n/index.js"
import { classifyFailure } from "../errors/failure-class.js"
import { storableJson } from "../domain/text.js"
import { StatsService } from "../observability/stats.js"
import { PaymentService, PaymentsLive, PaymentsRepo, UserCredits } from "../payments/index.js"
import { RateLimits } from "../rate-limits/rate-limits.js"
import { BotState } from "../storage/bot-state.js"
import { DeadLetterUpdates } from "../storage/dead-letter-updates.js"
import { PresetOffersRepo } from "../storage/preset-offers-repo.js"
import { BroadcastsRepo } from "../storage/broadcasts-repo.js"
import { SupportRepo } from "../storage/support-repo.js"
import { UsersRepo } from "../storage/users-repo.js"
import { TelegramApi } from "./api.js"
import type { BotContext, BotEnv, UserScope } from "./context.js"
import { adminFeature } from "./features/admin.js"
import { growthFeature, startParameterOf } from "./features/growth.js"
import { inviterOf } from "../domain/growth.js"
import { PromoCodesRepo } from "../growth/promo-codes-repo.js"
import { ReferralsRepo } from "../growth/referrals-repo.js"
import { generateFeature } from "./features/generate.js"
import { historyFeature } from "./features/history.js"
import { forgetFeature } from "./features/forget.js"
import { CountedUpdates } from "./counted-updates.js"
import { floodFeature } from "./features/limits.js"
import { membershipFeature } from "./features/membership.js"
import { presetsFeature } from "./features/presets.js"
import { broadcastFeature } from "./features/broadcast.js"
import { paymentCommandsFeature, paymentEventsFeature, type PaymentsFeatureDeps } from "./features/payments.js"
import { settingsFeature } from "./features/settings.js"
import { startFeature } from "./features/start.js"
import { supportFeature, type SupportFeatureDeps } from "./features/support.js"
import { unhandledFeature } from "./features/unhandled.js"
import { TelegramGateway } from "./gateway.js"
import { handleBounded, recordSetAside, senderOf, type SetAside, setAsideRow } from "./update-failures.js"

/** An Effect's failure carried through grammY's promise chain. */
export class EffectFailure extends Error {
  constructor(readonly effectCause: Cause.Cause<unknown>) {
    super(Cause.pretty(effectCause))
  }
}

/** The Effect cause behind a rejected `bot.handleUpdate` (a middleware outside `handler` failed). */
const causeOfRejection = (error: unknown): Cause.Cause<unknown> => {
  const inner = error instanceof BotError ? error.error : error
  return inner instanceof EffectFailure ? inner.effectCause : Cause.die(inner)
}

/**
 * The one bridge from grammY's promises to Effect: a runtime captured once for the whole
 * process; its fibers end with the layer's scope.
 */
export class BotBridge extends Effect.Service<BotBridge>()("app/BotBridge", {
  scoped: Effect.gen(function*() {
    const runFork = yield* FiberSet.makeRuntime<never>()
    const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
      new Promise((resolve, reject) => {
        runFork(effect).addObserver((exit) =>
          Exit.isSuccess(exit) ? resolve(exit.value) : reject(new EffectFailure(exit.cause))
        )
      })
    return { run } as const
  })
}) {}

const createBot = (
  env: BotEnv,
  api: Api,
  botInfo: UserFromGetMe,
  payments: PaymentsFeatureDeps,
  support: SupportFeatureDeps,
  scopes: WeakMap<object, UserScope>
) => {
  // Handlers send through the gateway; this bot only routes updates, on the process's Api settings.
  const bot = new Bot<BotContext>(api.token, { botInfo, ...(api.options === undefined ? {} : { client: api.options }) })

  bot.use(async (ctx, next) => {
    const scope = scopes.get(ctx.update)
    if (scope === undefined) throw new Error("an update reached the bot without its user's entity")
    ctx.user = scope
    ctx.lang = languageOf(ctx.from?.language_code)
    ctx.texts = messagesFor(ctx.lang)
    await next()
  })

  // First contact: cheap after the first time (the entity compares with what it loaded);
  // the free tokens come once ever.
  bot.use(async (ctx, next) => {
    if (ctx.from !== undefined) {
      const from = ctx.from
      await env.run(ctx.user.ops.register(`register:${from.id}`, {
        firstName: from.first_name,
        ...(from.username === undefined ? {} : { username: from.username }),
        ...(from.language_code === undefined ? {} : { languageCode: from.language_code })
      }, Option.getOrUndefined(Option.flatMap(startParameterOf(ctx), inviterOf))))
    }
    await next()
  })

  // Money already taken, and checkouts that must be answered: never flood-limited.
  bot.use(paymentEventsFeature(env, payments))
  bot.use(floodFeature(env))
  // Before the other features: a message for support is not a photo to animate.
  bot.use(supportFeature(env, support))
  bot.use(startFeature(env))
  bot.use(growthFeature(env))
  bot.use(settingsFeature(env))
  bot.use(historyFeature(env))
  bot.use(adminFeature(env))
  bot.use(broadcastFeature(env))
  bot.use(forgetFeature(env))
  bot.use(paymentCommandsFeature(env, payments))
  bot.use(generateFeature(env))
  bot.use(presetsFeature(env))
  bot.use(membershipFeature(env))
  bot.use(unhandledFeature(env))
  return bot
}

/** The process's bot identity, asked once (getMe) and kept; retried while Telegram is unreachable. */
const makeBotInfo = (api: Api) =>
  Effect.tryPromise(() => api.getMe()).pipe(
    Effect.tapError((error) => logFailure(LogLevel.Warning, "getMe failed; retrying", error)),
    Effect.retry(Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("30 seconds")))),
    Effect.orDie,
    Effect.cached
  )

/** The process's one bot, built on first use (its identity needs Telegram), for every user entity. */
export const UserUpdatesLive = Layer.effect(
  UserUpdates,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const gateway = yield* TelegramGateway
    const deadLetters = yield* DeadLetterUpdates
    const userRepo = yield* UsersRepo
    const { run } = yield* BotBridge
    const api = yield* TelegramApi
    const env: BotEnv = {
      config,
      gateway,
      state: yield* BotState,
      userRepo,
      presetOffers: yield* PresetOffersRepo,
      broadcasts: yield* BroadcastsRepo,
      jobs: yield* JobEntity.client,
      users: yield* UserEntity.client,
      limiter: yield* RateLimits,
      countedUpdates: yield* CountedUpdates,
      stats: yield* StatsService,
      growth: { referrals: yield* ReferralsRepo, promos: yield* PromoCodesRepo },
      run
    }
    const payments = { payments: yield* PaymentService, userCredits: yield* UserCredits }
    const support = { support: yield* SupportRepo, paymentsRepo: yield* PaymentsRepo }
    const scopes = new WeakMap<object, UserScope>()
    const bot = yield* Effect.flatten(makeBotInfo(api)).pipe(
      Effect.map((info) => createBot(env, api, info, payments, support, scopes)),
      Effect.cached
    )
    // What is stored about a failure is no log line: it is redacted here, by the same rules.
    const redactor = redactorOf(secretValuesIn(config))

    // One handling; fails with the cause a handler recorded, or with the rejection of a
    // middleware outside `handler` (first-contact registration, say).
    const handleOnce = (ops: UserOps, update: Update) =>
      Effect.gen(function*() {
        const scope: UserScope = { ops, unfinishedUpdate: { cause: undefined } }
        const routed = yield* bot
        scopes.set(update, scope)
        const rejected = yield* Effect.promise(() => routed.handleUpdate(update).then(() => undefined, causeOfRejection)).pipe(
          Effect.ensuring(Effect.sync(() => scopes.delete(update)))
        )
        const cause = scope.unfinishedUpdate.cause ?? rejected
        if (cause !== undefined) return yield* Effect.fail(cause)
      })

    const setAside = (ops: UserOps, update: TelegramUpdate): SetAside => (cause, failureClass, attempts) =>
      Effect.gen(function*() {
        const row = setAsideRow(update, ops.userId, cause, failureClass, attempts, redactor)
        // Only an outage may keep the update: anything else would make this a loop again.
        yield* deadLetters.record(row).pipe(
          Effect.catchAllCause((failure) =>
            classifyFailure(failure) === "transient"
              ? Effect.die(Cause.squash(failure))
              : Effect.logError("could not record the update set aside", failure)
          )
        )
        yield* recordSetAside(failureClass)
        yield* Effect.logError(`update set aside after ${attempts} failed handlings`, cause).pipe(
          Effect.annotateLogs({
            failureClass,
            errorTag: row.errorTag,
            errorCode: row.errorCode ?? "",
            updateKind: row.updateKind
          })
        )
        const sender = senderOf(update)
        const chatId = sender.chatId ?? ops.userId
        yield* gateway.sendMessage(chatId, messagesFor(languageOf(sender.languageCode)).updateSetAside).pipe(
          Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not tell the user that an update was skipped", error))
        )
      })

    return {
      notify: (userId: UserId, notice: UserNotice) =>
        Effect.gen(function*() {
          const texts = messagesFor(languageOf(yield* userRepo.languageOf(userId)))
          yield* gateway.sendMessage(userId, texts.invite.bonusReceived(notice.credits, notice.balance))
        }).pipe(
          Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not tell the user about their bonus", error)),
          Effect.catchAllDefect((defect) => logFailure(LogLevel.Warning, "could not tell the user about their bonus", defect))
        ),
      // Text is made storable at this edge: a caption or name with U+0000 is a fine
      // update on SQLite and a failing INSERT on Postgres otherwise.
      handle: (ops: UserOps, update: TelegramUpdate) =>
        handleBounded(
          Effect.suspend(() => handleOnce(ops, storableJson(update) as Update)),
          setAside(ops, update)
        ).pipe(Effect.annotateLogs({ updateId: update.update_id, userId: ops.userId }))
    }
  })
).pipe(
  Layer.provide([
    BotBridge.Default,
    BotState.Default,
    DeadLetterUpdates.Default,
    PresetOffersRepo.Default,
    BroadcastsRepo.Default,
    UsersRepo.Default,
    ReferralsRepo.Default,
    PromoCodesRepo.Default,
    SupportRepo.Default,
    StatsService.Default,
    PaymentsLive,
    RateLimits.Default,
    CountedUpdates.Default
  ])
)
