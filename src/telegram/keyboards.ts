/**
 * Inline keyboards of the bot's own messages; they only pack callback data.
 */
import type { StarPackage } from "../config/index.js"
import type { Messages } from "../i18n/index.js"
import { catalog, creditsFor } from "../kie/models.js"
import { motionPresetIds } from "../kie/motion-presets.js"
import { operatorTexts } from "../i18n/operator.js"
import {
  broadcastCallbackData,
  buyCallbackData,
  ownWordsCallbackData,
  presetCallbackData,
  settingsCallbackData,
  supportCallbackData
} from "./callback-data.js"
import type { InlineKeyboard } from "./gateway.js"

export const buyKeyboard = (texts: Messages, packages: ReadonlyArray<StarPackage>): InlineKeyboard =>
  packages.map((p) => [{ text: texts.buyButton(p.credits, p.stars), callbackData: buyCallbackData(p.credits) }])

/** Under /help, /privacy and a support answer: opens a support request. */
export const contactSupportKeyboard = (texts: Messages): InlineKeyboard => [[
  { text: texts.support.contactButton, callbackData: supportCallbackData("open") }
]]

/** Under the prompt of an open support request. */
export const cancelSupportKeyboard = (texts: Messages): InlineKeyboard => [[
  { text: texts.support.cancelButton, callbackData: supportCallbackData("cancel") }
]]

/** One button per model and duration the catalog offers, with its price; the current one ticked. */
export const settingsKeyboard = (
  texts: Messages,
  current: { readonly model: string; readonly durationSeconds: number }
): InlineKeyboard =>
  catalog.flatMap((model) =>
    model.durations.map((duration) => [{
      text: texts.settingsButton(
        model.label,
        duration,
        creditsFor(model, duration) ?? 1,
        model.slug === current.model && duration === current.durationSeconds
      ),
      callbackData: settingsCallbackData(model.slug, duration)
    }])
  )

/** The motion presets two to a row, each with the price of the user's settings, then "own words". */
export const presetKeyboard = (texts: Messages, photoMessageId: number, cost: number): InlineKeyboard => {
  const buttons = motionPresetIds.map((preset) => ({
    text: texts.presetButton(texts.presetName[preset], cost),
    callbackData: presetCallbackData(photoMessageId, preset)
  }))
  const rows: Array<ReadonlyArray<(typeof buttons)[number]>> = []
  for (let i = 0; i < buttons.length; i += 2) rows.push(buttons.slice(i, i + 2))
  return [...rows, [{ text: texts.ownWordsButton, callbackData: ownWordsCallbackData(photoMessageId) }]]
}

/** Under a broadcast's preview: send it, or discard the draft. */
export const broadcastConfirmKeyboard = (broadcastId: number, users: number): InlineKeyboard => [[
  { text: operatorTexts.broadcastSend(users), callbackData: broadcastCallbackData("go", broadcastId) },
  { text: operatorTexts.broadcastDiscard, callbackData: broadcastCallbackData("no", broadcastId) }
]]

/** Under a campaign's progress: pause or resume, and cancel. */
export const broadcastControlKeyboard = (broadcastId: number, state: "running" | "paused"): InlineKeyboard => [[
  state === "running"
    ? { text: operatorTexts.broadcastPause, callbackData: broadcastCallbackData("pause", broadcastId) }
    : { text: operatorTexts.broadcastResume, callbackData: broadcastCallbackData("resume", broadcastId) },
  { text: operatorTexts.broadcastCancel, callbackData: broadcastCallbackData("cancel", broadcastId) }
]]
