import { describe, expect, it } from "vitest"
import { lonePhotosOf } from "../../../src/telegram/intake/lone-photos.js"
import { inboxRowsOf } from "../../../src/telegram/intake/updates.js"

const photo = [{ file_id: "small", file_unique_id: "s", width: 90, height: 90 }, { file_id: "large", file_unique_id: "l", width: 1280, height: 960, file_size: 200_000 }]
const from = (id: number) => ({ id, is_bot: false, first_name: `U${id}`, language_code: "ru" })
const photoUpdate = (updateId: number, userId: number, extra: Record<string, unknown> = {}) => ({
  update_id: updateId,
  message: { message_id: updateId, date: 0, chat: { id: userId, type: "private" }, from: from(userId), photo, caption: "waves", ...extra }
})
const admins = [9000]
const taken = (updates: ReadonlyArray<{ update_id: number }>) =>
  lonePhotosOf(updates as never, inboxRowsOf(updates as never), admins).map((p) => p.updateId)

describe("which photos of a batch the poller may admit itself", () => {
  it("takes a private chat's photo, its largest size and the sender's profile", () => {
    const [lone] = lonePhotosOf([photoUpdate(1, 10)] as never, inboxRowsOf([photoUpdate(1, 10)] as never), admins)
    expect(lone).toEqual({
      updateId: 1,
      userId: 10,
      chatId: 10,
      messageId: 1,
      fileId: "large",
      fileSize: 200_000,
      caption: "waves",
      profile: { firstName: "U10", languageCode: "ru" }
    })
  })

  it("leaves to the user's entity a user's photo beside another update of theirs, in either order", () => {
    const text = (updateId: number, userId: number) => ({
      update_id: updateId,
      message: { message_id: updateId, date: 0, chat: { id: userId, type: "private" }, from: from(userId), text: "/start" }
    })
    expect(taken([photoUpdate(1, 10), text(2, 10), text(3, 20), photoUpdate(4, 20), photoUpdate(5, 30), photoUpdate(6, 40), photoUpdate(7, 40)]))
      .toEqual([5])
  })

  it("leaves groups, admins, bots, commands in captions, edits and documents to the entity", () => {
    const updates = [
      photoUpdate(1, 10, { chat: { id: -100, type: "group" } }),
      photoUpdate(2, 9000),
      photoUpdate(3, 11, { from: { ...from(11), is_bot: true } }),
      photoUpdate(4, 12, { caption: "  /buy" }),
      photoUpdate(5, 13, { caption: "waves", caption_entities: [{ type: "bot_command", offset: 0, length: 4 }] }),
      { update_id: 6, edited_message: photoUpdate(6, 14).message },
      { update_id: 7, message: { message_id: 7, date: 0, chat: { id: 15, type: "private" }, from: from(15), document: { file_id: "d", file_unique_id: "d", mime_type: "image/png" } } },
      photoUpdate(8, 16, { caption: undefined })
    ]
    // A bare photo is still a candidate: whether it gets the preset menu is decided with the settings.
    expect(taken(updates)).toEqual([8])
  })
})
