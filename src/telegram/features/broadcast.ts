/**
 * Admins' broadcasts. `/broadcast` in reply to a message makes a draft (one per update) and
 * shows the admin exactly what users will get, with "send" and "discard". "Send" enrols
 * every user who has not blocked the bot and hands the campaign to the sender
 * (src/broadcasts/broadcast-sender.ts), whose progress message carries "pause"/"resume" and
 * "cancel". For anyone else the command and the buttons do not exist.
 */
import { Effect, Option } from "effect"
import { Composer } from "grammy"
import { parseBroadcast } from "../../broadcasts/broadcast-content.js"
import type { BroadcastState } from "../../domain/broadcast.js"
import { operatorTexts } from "../../i18n/operator.js"
import { command } from "../commands.js"
import { type BroadcastAction, parseCallbackData } from "../callback-data.js"
import { answer, type BotContext, type BotEnv, handler, reply } from "../context.js"
import { broadcastConfirmKeyboard, broadcastControlKeyboard } from "../keyboards.js"
import { isAdmin } from "./admin.js"

/** Recipients read and enrolled per statement. */
const enrolPage = 500

/** Which state each button moves a campaign from, and to. */
const moves: Record<Exclude<BroadcastAction, "go">, { readonly from: ReadonlyArray<BroadcastState>; readonly to: BroadcastState }> = {
  no: { from: ["draft"], to: "cancelled" },
  pause: { from: ["running"], to: "paused" },
  resume: { from: ["paused"], to: "running" },
  cancel: { from: ["running", "paused"], to: "cancelled" }
}

export const broadcastFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  const admins = composer.filter((ctx) => isAdmin(env, ctx))

  admins.command(command("broadcast"), handler(env, "admin.broadcast", (ctx) =>
    Effect.gen(function*() {
      const parsed = parseBroadcast(ctx.message?.reply_to_message, ctx.match)
      switch (parsed._tag) {
        case "NoReply":
          return yield* reply(env, ctx, operatorTexts.broadcastUsage)
        case "Unsupported":
          return yield* reply(env, ctx, operatorTexts.broadcastUnsupported)
        case "BadButton":
          return yield* reply(env, ctx, operatorTexts.broadcastBadButton(parsed.line))
      }
      const chatId = ctx.chat!.id
      const id = yield* env.broadcasts.createDraft({
        adminId: ctx.from!.id,
        adminChatId: chatId,
        sourceKey: `update:${ctx.update.update_id}`,
        content: parsed.content
      })
      // The preview is the very message users get; one Telegram refuses is no campaign.
      const preview = yield* Effect.either(env.gateway.sendBroadcast(chatId, parsed.content, "normal"))
      if (preview._tag === "Left") {
        yield* env.broadcasts.transition(id, ["draft"], "cancelled")
        return yield* reply(env, ctx, operatorTexts.broadcastPreviewFailed(preview.left.message))
      }
      const users = yield* env.userRepo.countReachable()
      yield* reply(env, ctx, operatorTexts.broadcastConfirm(id, users), broadcastConfirmKeyboard(id, users))
    })))

  admins.callbackQuery(/^bc:/, handler(env, "admin.broadcastButton", (ctx) =>
    Effect.gen(function*() {
      const action = parseCallbackData(ctx.callbackQuery.data)
      const found = action._tag === "Broadcast" ? yield* env.broadcasts.get(action.broadcastId) : Option.none()
      if (action._tag !== "Broadcast" || Option.isNone(found)) {
        return yield* answer(ctx, operatorTexts.broadcastNotFound, { alert: true })
      }
      const campaign = found.value
      const menu = ctx.callbackQuery.message
      if (action.action === "go") {
        if (campaign.state !== "draft") return yield* answer(ctx, operatorTexts.broadcastNow(campaign.state))
        // Enrolment adds each user once, so a handling cut short here simply runs again.
        let after = 0
        while (true) {
          const page = yield* env.userRepo.reachable(after, enrolPage)
          yield* env.broadcasts.enroll(campaign.id, page)
          if (page.length < enrolPage) break
          after = page.at(-1)!
        }
        if (menu !== undefined) yield* env.broadcasts.setStatusMessage(campaign.id, menu.message_id)
        if (!(yield* env.broadcasts.transition(campaign.id, ["draft"], "running"))) {
          return yield* answer(ctx, operatorTexts.broadcastNow(campaign.state))
        }
        yield* answer(ctx)
        const started = yield* env.broadcasts.get(campaign.id)
        const total = Option.match(started, { onNone: () => 0, onSome: (row) => row.recipients })
        const counts = yield* env.broadcasts.counts(campaign.id)
        if (menu !== undefined) {
          yield* env.gateway.editMessageText(menu.chat.id, menu.message_id, operatorTexts.broadcastProgress(campaign.id, "running", counts, total), {
            keyboard: broadcastControlKeyboard(campaign.id, "running")
          })
        }
        return yield* Effect.logInfo("broadcast started").pipe(Effect.annotateLogs({ broadcastId: campaign.id, recipients: total }))
      }
      const move = moves[action.action]
      if (!(yield* env.broadcasts.transition(campaign.id, move.from, move.to))) {
        return yield* answer(ctx, operatorTexts.broadcastNow(campaign.state))
      }
      yield* answer(ctx, operatorTexts.broadcastNow(move.to))
      if (menu === undefined) return
      if (action.action === "no") {
        return yield* env.gateway.editMessageText(menu.chat.id, menu.message_id, operatorTexts.broadcastDiscarded(campaign.id))
      }
      // Running or paused: the buttons follow; a cancelled one waits for the sender's report.
      if (move.to === "running" || move.to === "paused") {
        const counts = yield* env.broadcasts.counts(campaign.id)
        yield* env.gateway.editMessageText(menu.chat.id, menu.message_id, operatorTexts.broadcastProgress(campaign.id, move.to, counts, campaign.recipients), {
          keyboard: broadcastControlKeyboard(campaign.id, move.to)
        })
      }
    })))

  return composer
}
