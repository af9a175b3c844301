/**
 * What an admin's `/broadcast` sends: the message it replies to (a text, a photo or a video,
 * with its caption and formatting) and URL buttons given after the command, one per line:
 *
 *     /broadcast
 *     Try the new model | https://t.me/examplebot?start=new
 */
import type { Message } from "grammy/types"
import type { BroadcastButton, BroadcastContent } from "../domain/broadcast.js"

export type ParsedBroadcast =
  | { readonly _tag: "Content"; readonly content: BroadcastContent }
  /** The command does not reply to a message. */
  | { readonly _tag: "NoReply" }
  /** The replied message is not a text, a photo or a video. */
  | { readonly _tag: "Unsupported" }
  | { readonly _tag: "BadButton"; readonly line: string }

/** Telegram's cap on a message's inline buttons is 100; a campaign needs a handful. */
export const maxBroadcastButtons = 8

const buttonLine = /^(.{1,64}?)\s*\|\s*((?:https?|tg):\/\/\S+)$/

const parseButtons = (args: string): ReadonlyArray<BroadcastButton> | { readonly bad: string } => {
  const lines = args.split("\n").map((line) => line.trim()).filter((line) => line !== "")
  const buttons: Array<BroadcastButton> = []
  for (const line of lines) {
    const match = buttonLine.exec(line)
    if (match === null || buttons.length >= maxBroadcastButtons) return { bad: line }
    buttons.push({ text: match[1]!.trim(), url: match[2]! })
  }
  return buttons
}

export const parseBroadcast = (replied: Message | undefined, args: string): ParsedBroadcast => {
  if (replied === undefined) return { _tag: "NoReply" }
  const buttons = parseButtons(args)
  if ("bad" in buttons) return { _tag: "BadButton", line: buttons.bad }
  const rows = buttons.map((button) => [button])
  const content = (kind: BroadcastContent["kind"], body: string, entities: unknown, fileId: string | undefined) =>
    ({ _tag: "Content", content: { kind, body, entitiesJson: JSON.stringify(entities ?? []), fileId, buttons: rows } }) as const
  if (replied.text !== undefined) return content("text", replied.text, replied.entities, undefined)
  const largest = replied.photo?.at(-1)
  if (largest !== undefined) return content("photo", replied.caption ?? "", replied.caption_entities, largest.file_id)
  if (replied.video !== undefined) return content("video", replied.caption ?? "", replied.caption_entities, replied.video.file_id)
  return { _tag: "Unsupported" }
}
