/**
 * The bot's callback data, all under Telegram's 64 bytes: one short prefix per action.
 * The job buttons are built by the job driver (`again:`/`cancel:`), the rest here; every
 * press is parsed here, and anything else (forged, from an older version) is `Unknown`.
 */
import { Schema } from "effect"
import { JobId } from "../domain/ids.js"
import { againCallbackData, cancelCallbackData } from "../jobs/job-driver.js"

export type CallbackAction =
  | { readonly _tag: "Again"; readonly jobId: JobId }
  | { readonly _tag: "Cancel"; readonly jobId: JobId }
  | { readonly _tag: "Buy"; readonly credits: number }
  | { readonly _tag: "Settings"; readonly modelIndex: number; readonly durationSeconds: number }
  | { readonly _tag: "Unknown" }

export const buyCallbackData = (credits: number) => `buy:${credits}`
export const settingsCallbackData = (modelIndex: number, durationSeconds: number) => `set:${modelIndex}:${durationSeconds}`
export { againCallbackData, cancelCallbackData }

const isJobId = Schema.is(JobId)

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
      const [modelIndex, durationSeconds] = rest.map(Number)
      return rest.length === 2 && Number.isInteger(modelIndex) && Number.isInteger(durationSeconds)
        ? { _tag: "Settings", modelIndex: modelIndex!, durationSeconds: durationSeconds! }
        : { _tag: "Unknown" }
    }
    default:
      return { _tag: "Unknown" }
  }
}
