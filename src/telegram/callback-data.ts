/**
 * The bot's callback data, all under Telegram's 64 bytes: one short prefix per action.
 * Every button's data is built and parsed here; anything else (forged, from an older
 * version) parses as `Unknown`.
 */
import { Schema } from "effect"
import { JobId } from "../domain/ids.js"
import { isMotionPresetId, type MotionPresetId } from "../kie/motion-presets.js"

export type CallbackAction =
  | { readonly _tag: "Again"; readonly jobId: JobId }
  | { readonly _tag: "Cancel"; readonly jobId: JobId }
  | { readonly _tag: "Buy"; readonly credits: number }
  | { readonly _tag: "Settings"; readonly model: string; readonly durationSeconds: number }
  /** A motion preset for the photo with this message id (in the button's chat). */
  | { readonly _tag: "Preset"; readonly photoMessageId: number; readonly preset: MotionPresetId }
  | { readonly _tag: "OwnWords"; readonly photoMessageId: number }
  | { readonly _tag: "Broadcast"; readonly action: BroadcastAction; readonly broadcastId: number }
  | { readonly _tag: "Support"; readonly action: SupportAction }
  | { readonly _tag: "Unknown" }

/** The buttons under a job: "generate again" and, while it has not reached KIE, "cancel". */
export const againCallbackData = (jobId: string) => `again:${jobId}`
export const cancelCallbackData = (jobId: string) => `cancel:${jobId}`

export const buyCallbackData = (credits: number) => `buy:${credits}`
/**
 * Keyed by the model's slug, which a reordered catalog does not change. Keyboards sent
 * before carried the catalog position ("set:0:5"); no slug is a number, so those are stale.
 */
export const settingsCallbackData = (model: string, durationSeconds: number) => `set:${model}:${durationSeconds}`

/** The preset menu under a photo without a caption: keyed by the photo's message id. */
export const presetCallbackData = (photoMessageId: number, preset: MotionPresetId) => `pre:${photoMessageId}:${preset}`
export const ownWordsCallbackData = (photoMessageId: number) => `own:${photoMessageId}`
/** "Contact support" opens a request; "Cancel" under its prompt closes it unsent. */
export type SupportAction = "open" | "cancel"
export const supportCallbackData = (action: SupportAction) => `support:${action}`

/** An admin's buttons on a broadcast: confirm or discard the draft, then pause, resume or cancel. */
export const broadcastActions = ["go", "no", "pause", "resume", "cancel"] as const
export type BroadcastAction = typeof broadcastActions[number]
export const broadcastCallbackData = (action: BroadcastAction, broadcastId: number) => `bc:${action}:${broadcastId}`

const isJobId = Schema.is(JobId)

/** A positive integer id (a message's, a campaign's) as callback data carries it. */
const messageIdOf = (raw: string | undefined): number | undefined => {
  const id = Number(raw)
  return raw !== undefined && /^\d{1,15}$/.test(raw) && Number.isSafeInteger(id) && id > 0 ? id : undefined
}

export const parseCallbackData = (data: string): CallbackAction => {
  const [prefix, ...rest] = data.split(":")
  switch (prefix) {
    case "again":
    case "cancel": {
      const jobId = rest.join(":")
      if (!isJobId(jobId)) return { _tag: "Unknown" }
      return prefix === "again" ? { _tag: "Again", jobId } : { _tag: "Cancel", jobId }
    }
    case "buy": {
      const credits = Number(rest[0])
      return rest.length === 1 && Number.isInteger(credits) && credits > 0 ? { _tag: "Buy", credits } : { _tag: "Unknown" }
    }
    case "set": {
      const model = rest.slice(0, -1).join(":")
      const durationSeconds = Number(rest.at(-1))
      return model !== "" && Number.isInteger(durationSeconds)
        ? { _tag: "Settings", model, durationSeconds }
        : { _tag: "Unknown" }
    }
    case "pre": {
      const photoMessageId = messageIdOf(rest[0])
      const preset = rest[1]
      return rest.length === 2 && photoMessageId !== undefined && preset !== undefined && isMotionPresetId(preset)
        ? { _tag: "Preset", photoMessageId, preset }
        : { _tag: "Unknown" }
    }
    case "own": {
      const photoMessageId = messageIdOf(rest[0])
      return rest.length === 1 && photoMessageId !== undefined ? { _tag: "OwnWords", photoMessageId } : { _tag: "Unknown" }
    }
    case "bc": {
      const action = broadcastActions.find((known) => known === rest[0])
      const broadcastId = messageIdOf(rest[1])
      return rest.length === 2 && action !== undefined && broadcastId !== undefined
        ? { _tag: "Broadcast", action, broadcastId }
        : { _tag: "Unknown" }
    }
    case "support":
      return rest.length === 1 && (rest[0] === "open" || rest[0] === "cancel")
        ? { _tag: "Support", action: rest[0] }
        : { _tag: "Unknown" }
    default:
      return { _tag: "Unknown" }
  }
}
