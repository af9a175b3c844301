import { describe, expect, it } from "vitest"
import type { Update } from "grammy/types"
import { byUser } from "../../src/telegram/intake/poller.js"

const message = (updateId: number, userId: number | undefined): Update =>
  ({
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 0,
      chat: { id: userId ?? -100, type: userId === undefined ? "channel" : "private" },
      ...(userId === undefined ? {} : { from: { id: userId, is_bot: false, first_name: "U" } }),
      text: String(updateId)
    }
  }) as unknown as Update

describe("a getUpdates batch is stored per user", () => {
  it("keeps each user's updates in Telegram's order and puts different users in different groups", () => {
    const batch = [message(1, 10), message(2, 20), message(3, 10), message(4, undefined), message(5, 20), message(6, 10)]
    const groups = byUser(batch).map((group) => group.map((update) => update.update_id))
    expect(groups).toEqual([[1, 3, 6], [2, 5], [4]])
  })

  it("gives every update without a user a group of its own", () => {
    const groups = byUser([message(1, undefined), message(2, undefined)]).map((group) => group.map((u) => u.update_id))
    expect(groups).toEqual([[1], [2]])
  })
})
