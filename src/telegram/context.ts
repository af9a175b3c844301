/**
 * The bot's context and the environment its features are built from. One bot serves the
 * whole process; each update runs inside its user's entity, whose own logic (`ops`) the
 * update's context carries in `ctx.user`. `run` is the process's one bridge from grammY's
 * promises to Effect.
 */
import type { CountedUpdates } from "./counted-updates.js"
import { Cause, Effect, LogLevel } from "effect"
import { classifyFailure } from "../errors/failure-class.js"
import { logFailure } from "../observability/error-summary.js"
import type { Context } from "grammy"
import type { JobEntity } from "../protocols/job-protocol.js"
import type { UserEntity, UserOps } from "../protocols/user-protocol.js"
import type { AppSettings } from "../config/index.js"
import type { Language, Messages } from "../i18n/index.js"
import type { PromoCodesRepo } from "../growth/promo-codes-repo.js"
import type { ReferralsRepo } from "../growth/referrals-repo.js"
import type { StatsService } from "../observability/stats.js"
import type { RateLimitsService } from "../rate-limits/rate-limits.js"
import type { BotState } from "../storage/bot-state.js"
import type { BroadcastsRepo } from "../storage/broadcasts-repo.js"
import type { PresetOffersRepo } from "../storage/preset-offers-repo.js"
import type { UsersRepo } from "../storage/users-repo.js"
import type { InlineKeyboard, TelegramGatewayService } from "./gateway.js"

/** What one update's handling knows of its user: the entity's logic and the handling's outcome. */
export interface UserScope {
  readonly ops: UserOps
  /**
   * Set by a handler that failed: the update is then handled again or, when it keeps
   * failing the same way, set aside (see ./update-failures.ts), never dropped with a log line.
   */
  readonly unfinishedUpdate: { cause: Cause.Cause<unknown> | undefined }
}

export type BotContext = Context & {
  /** Set by the first middleware, from the entity that handles the update. */
  user: UserScope
  /** From the sender's language_code; set by the first middleware. */
  lang: Language
  texts: Messages
}

export interface BotEnv {
  readonly config: AppSettings
  readonly gateway: TelegramGatewayService
  readonly state: BotState
  readonly userRepo: UsersRepo
  /** Photos without a caption and the preset menu each was offered. */
  readonly presetOffers: PresetOffersRepo
  /** Admins' broadcasts (src/telegram/features/broadcast.ts). */
  readonly broadcasts: BroadcastsRepo
  readonly jobs: Effect.Effect.Success<typeof JobEntity.client>
  readonly users: Effect.Effect.Success<typeof UserEntity.client>
  readonly limiter: RateLimitsService
  /** The updates already counted against the flood limit in this process (./features/limits.ts). */
  readonly countedUpdates: CountedUpdates
  /** The figures behind the admins' /stats. */
  readonly stats: StatsService
  /** Invitations and promo codes: the tables behind /invite and the admins' /promo_* commands. */
  readonly growth: { readonly referrals: ReferralsRepo; readonly promos: PromoCodesRepo }
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
}

/**
 * A grammY handler that runs one Effect. Its failures are never thrown back at grammY: they
 * are logged and recorded in `ctx.user.unfinishedUpdate` for the update's own retry policy.
 */
export const handler = <C extends BotContext>(
  env: BotEnv,
  name: string,
  body: (ctx: C) => Effect.Effect<void, unknown>
) =>
(ctx: C): Promise<void> =>
  env.run(
    body(ctx).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.void
          : Effect.logWarning(`bot handler ${name} failed (${classifyFailure(cause)})`, cause).pipe(
            Effect.zipRight(Effect.sync(() => {
              ctx.user.unfinishedUpdate.cause ??= cause
            }))
          )
      ),
      Effect.annotateLogs({ handler: name, userId: ctx.user.ops.userId, updateId: ctx.update.update_id }),
      Effect.withSpan(`Bot.${name}`)
    )
  )

/**
 * A job's part of a handler: its log lines carry the job id (`handler` adds the user id),
 * and so does a line for its failure, which goes on to `handler`.
 */
export const forJob = (jobId: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<void, E, R> =>
  self.pipe(
    Effect.asVoid,
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logWarning(`the job's request failed (${classifyFailure(cause)})`)
    ),
    Effect.annotateLogs({ jobId })
  )

/**
 * Sends a message to the update's chat; a failure (blocked, say) is logged, not raised. It
 * answers the update, so it goes ahead of videos to users who have heard from us
 * (src/telegram/outgoing-limits.ts).
 */
export const reply = (env: BotEnv, ctx: BotContext, text: string, keyboard?: InlineKeyboard) =>
  env.gateway.sendMessage(ctx.chat?.id ?? ctx.user.ops.userId, text, { keyboard, priority: "answer" }).pipe(
    Effect.asVoid,
    Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not reply", error))
  )

/** Answers the pressed button (a toast, or an alert the user closes). */
export const answer = (ctx: BotContext, text?: string, options: { readonly alert?: boolean } = {}) =>
  Effect.tryPromise(() =>
    ctx.answerCallbackQuery(text === undefined ? {} : { text, ...(options.alert === true ? { show_alert: true } : {}) })
  ).pipe(
    Effect.asVoid,
    Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not answer the callback query", error))
  )
