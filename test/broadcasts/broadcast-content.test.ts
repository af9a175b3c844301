import { describe, expect, it } from "@effect/vitest"
import type { Message } from "grammy/types"
import { parseBroadcast } from "../../src/broadcasts/broadcast-content.js"
import { parseCallbackData } from "../../src/telegram/callback-data.js"

const message = (fields: Partial<Message>) => ({ message_id: 5, date: 0, chat: { id: 1, type: "private", first_name: "A" }, ...fields }) as Message

describe("a broadcast's content", () => {
  it("is the replied text with its formatting, and URL buttons one per line", () => {
    const replied = message({ text: "Big news", entities: [{ type: "bold", offset: 0, length: 3 }] })
    expect(parseBroadcast(replied, "\nTry it | https://example.com/a\n  Docs|tg://resolve?domain=x  ")).toEqual({
      _tag: "Content",
      content: {
        kind: "text",
        body: "Big news",
        entitiesJson: JSON.stringify([{ type: "bold", offset: 0, length: 3 }]),
        fileId: undefined,
        buttons: [[{ text: "Try it", url: "https://example.com/a" }], [{ text: "Docs", url: "tg://resolve?domain=x" }]]
      }
    })
  })

  it("is a photo's largest size or a video, with the caption (or none)", () => {
    const photo = message({ photo: [{ file_id: "small", file_unique_id: "s", width: 90, height: 90 }, { file_id: "big", file_unique_id: "b", width: 1280, height: 960 }], caption: "Sale" })
    expect(parseBroadcast(photo, "")).toMatchObject({ _tag: "Content", content: { kind: "photo", body: "Sale", fileId: "big", buttons: [] } })
    const video = message({ video: { file_id: "vid", file_unique_id: "v", width: 1, height: 1, duration: 3 } })
    expect(parseBroadcast(video, "")).toMatchObject({ _tag: "Content", content: { kind: "video", body: "", fileId: "vid", entitiesJson: "[]" } })
  })

  it("refuses no reply, a sticker, a line that is not a button, and too many buttons", () => {
    expect(parseBroadcast(undefined, "")).toEqual({ _tag: "NoReply" })
    expect(parseBroadcast(message({ sticker: { file_id: "s" } as NonNullable<Message["sticker"]> }), "")).toEqual({ _tag: "Unsupported" })
    expect(parseBroadcast(message({ text: "x" }), "Try it https://example.com")).toEqual({ _tag: "BadButton", line: "Try it https://example.com" })
    expect(parseBroadcast(message({ text: "x" }), "Bad | javascript:alert(1)")).toEqual({ _tag: "BadButton", line: "Bad | javascript:alert(1)" })
    const nine = Array.from({ length: 9 }, (_, i) => `B${i} | https://example.com/${i}`).join("\n")
    expect(parseBroadcast(message({ text: "x" }), nine)).toEqual({ _tag: "BadButton", line: "B8 | https://example.com/8" })
  })
})

describe("callback data of presets and broadcasts", () => {
  it("parses what the keyboards build and nothing else", () => {
    expect(parseCallbackData("pre:42:zoom")).toEqual({ _tag: "Preset", photoMessageId: 42, preset: "zoom" })
    expect(parseCallbackData("own:42")).toEqual({ _tag: "OwnWords", photoMessageId: 42 })
    expect(parseCallbackData("bc:go:3")).toEqual({ _tag: "Broadcast", action: "go", broadcastId: 3 })
    for (const forged of ["pre:42:moonwalk", "pre:0:zoom", "pre:-1:zoom", "pre:4.2:zoom", "pre:42", "pre:42:zoom:x", "own:", "own:x", "bc:nuke:3", "bc:go:x", "bc:go"]) {
      expect(parseCallbackData(forged)).toEqual({ _tag: "Unknown" })
    }
  })
})
