/**
 * The preset menu's buttons (the menu itself is sent by ./generate.ts for a photo without a
 * caption). A tap starts the photo's job with the preset's prompt, at the price the menu
 * showed (kept with the offer); the job's request key is the photo's, as for a caption, so
 * a second tap, or a tap on another preset, starts nothing more. A button whose offer is
 * not this user's (forged, or from another chat) is answered as stale.
 */
import { Effect, LogLevel, Option } from "effect"
import { Composer } from "grammy"
import { findModel } from "../../kie/models.js"
import { motionPrompts } from "../../kie/motion-presets.js"
import { logFailure } from "../../observability/error-summary.js"
import { parseCallbackData } from "../callback-data.js"
import { answer, type BotContext, type BotEnv, handler, reply } from "../context.js"
import { photoRequestKey, startNewJob } from "./generate.js"
import { replyInsufficient } from "./payments.js"

export const presetsFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()

  composer.callbackQuery(/^pre:/, handler(env, "preset", (ctx) =>
    Effect.gen(function*() {
      const action = parseCallbackData(ctx.callbackQuery.data)
      const chatId = ctx.chat?.id ?? ctx.user.ops.userId
      const offer = action._tag === "Preset"
        ? yield* env.presetOffers.find(ctx.user.ops.userId, chatId, action.photoMessageId)
        : Option.none()
      if (action._tag !== "Preset" || Option.isNone(offer)) return yield* answer(ctx, ctx.texts.staleButton, { alert: true })
      const model = findModel(offer.value.model)
      if (model === undefined) return yield* answer(ctx, ctx.texts.staleButton, { alert: true })
      const requestKey = photoRequestKey(chatId, action.photoMessageId)
      if (yield* env.state.requestKnown(requestKey)) return yield* answer(ctx, ctx.texts.presetAlreadyStarted)
      const cost = offer.value.cost
      const balance = yield* ctx.user.ops.balance
      if (balance.total < cost) {
        yield* answer(ctx)
        return yield* replyInsufficient(env, ctx, cost, balance)
      }
      const name = ctx.texts.presetName[action.preset]
      const started = yield* startNewJob(env, ctx, {
        requestKey,
        fileId: offer.value.fileId,
        fileSize: offer.value.fileSize,
        prompt: motionPrompts[action.preset],
        model,
        durationSeconds: offer.value.durationSeconds,
        cost
      })
      // Answered after the start, one short commit, well inside Telegram's limit for a press.
      if (started === "no-room") {
        return yield* answer(ctx, ctx.texts.tooManyInFlight(env.config.bot.maxJobsInFlight), { alert: true })
      }
      yield* answer(ctx, started === "started" ? ctx.texts.presetStarting(name) : undefined)
      if (started !== "started") return
      // The menu becomes the choice, without buttons: nothing left to tap.
      const menu = ctx.callbackQuery.message
      if (menu !== undefined) {
        yield* env.gateway.editMessageText(menu.chat.id, menu.message_id, ctx.texts.presetChosen(name, cost)).pipe(
          Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not close the preset menu", error))
        )
      }
    })))

  composer.callbackQuery(/^own:/, handler(env, "preset.ownWords", (ctx) =>
    Effect.gen(function*() {
      if (parseCallbackData(ctx.callbackQuery.data)._tag !== "OwnWords") {
        return yield* answer(ctx, ctx.texts.staleButton, { alert: true })
      }
      yield* answer(ctx)
      yield* reply(env, ctx, ctx.texts.ownWordsHint)
    })))

  return composer
}
