/**
 * /settings: the model and duration of the user's next videos, among what the catalog
 * offers, each with its price. Kept per user in SQL; the default costs 1.
 */
import { Effect, LogLevel, Option } from "effect"
import { logFailure } from "../../observability/error-summary.js"
import { Composer } from "grammy"
import { catalog, creditsFor, findModel, type VideoModel } from "../../kie/models.js"
import { parseCallbackData } from "../callback-data.js"
import { answer, type BotContext, type BotEnv, handler, reply } from "../context.js"
import { settingsKeyboard } from "../keyboards.js"
import type { VideoPrice } from "../../i18n/messages.js"
import { command } from "../commands.js"
import type { ChosenSettings } from "../../domain/user-settings.js"

export interface EffectiveSettings {
  readonly model: VideoModel
  readonly durationSeconds: number
  readonly cost: number
  /** What a video costs with the operator's default settings. */
  readonly defaultCost: number
}

/**
 * The user's stored choice, or the operator's default model (`kieModel`); a choice the
 * catalog no longer offers falls back. Pure: the intake prices a lone photo with it too
 * (src/telegram/intake/lone-photos.ts).
 */
export const settingsOf = (kieModel: string, stored: Option.Option<ChosenSettings>): EffectiveSettings => {
  const fallback = findModel(kieModel) ?? catalog[0]!
  const defaultCost = creditsFor(fallback, fallback.defaultDuration) ?? 1
  const model = Option.flatMap(stored, (s) => Option.fromNullable(findModel(s.model))).pipe(
    Option.getOrElse(() => fallback)
  )
  const wanted = Option.map(stored, (s) => s.durationSeconds).pipe(Option.getOrElse(() => model.defaultDuration))
  const durationSeconds = model.durations.includes(wanted) ? wanted : model.defaultDuration
  return { model, durationSeconds, cost: creditsFor(model, durationSeconds) ?? 1, defaultCost }
}

/** The user's stored choice, or the default. */
export const currentSettings = (env: BotEnv, ctx: BotContext) =>
  Effect.map(ctx.user.ops.settings, (stored) => settingsOf(env.config.kie.model, stored))

/** What a video costs with these settings, as the texts show it. */
export const currentPrice = (env: BotEnv, ctx: BotContext) =>
  Effect.map(currentSettings(env, ctx), (settings): VideoPrice => ({
    model: settings.model.label,
    durationSeconds: settings.durationSeconds,
    cost: settings.cost
  }))

/** The model and duration a settings button names, while the catalog still offers them. */
export const chosenSetting = (data: string): { readonly model: VideoModel; readonly durationSeconds: number } | undefined => {
  const action = parseCallbackData(data)
  if (action._tag !== "Settings") return undefined
  const model = findModel(action.model)
  return model?.durations.includes(action.durationSeconds) ? { model, durationSeconds: action.durationSeconds } : undefined
}

export const settingsFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()

  composer.command(command("settings"), handler(env, "settings", (ctx) =>
    Effect.gen(function*() {
      const current = yield* currentSettings(env, ctx)
      yield* reply(
        env,
        ctx,
        ctx.texts.settings(current.model.label, current.durationSeconds, current.cost),
        settingsKeyboard(ctx.texts, { model: current.model.slug, durationSeconds: current.durationSeconds })
      )
    })))

  composer.callbackQuery(/^set:/, handler(env, "settings.choose", (ctx) =>
    Effect.gen(function*() {
      const chosen = chosenSetting(ctx.callbackQuery.data ?? "")
      if (chosen === undefined) return yield* answer(ctx, ctx.texts.staleButton)
      const { durationSeconds, model } = chosen
      const cost = creditsFor(model, durationSeconds) ?? 1
      yield* answer(ctx, ctx.texts.settingsSaved(model.label, durationSeconds, cost))
      yield* ctx.user.ops.saveSettings({ model: model.slug, durationSeconds })
      const message = ctx.callbackQuery.message
      if (message !== undefined) {
        yield* env.gateway.editMessageText(
          message.chat.id,
          message.message_id,
          ctx.texts.settingsSaved(model.label, durationSeconds, cost),
          { keyboard: settingsKeyboard(ctx.texts, { model: model.slug, durationSeconds }) }
        ).pipe(Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not update the settings message", error)))
      }
    })))
  return composer
}
