import { describe, expect, it } from "vitest"
import { inboxRowsOf } from "../../../src/telegram/intake/updates.js"

const message = (updateId: number, userId: number | undefined, text = String(updateId)) => ({
  update_id: updateId,
  message: {
    message_id: updateId,
    date: 0,
    chat: { id: userId ?? -100, type: userId === undefined ? "channel" : "private" },
    ...(userId === undefined ? {} : { from: { id: userId, is_bot: false, first_name: "U" } }),
    text
  }
})

describe("a getUpdates batch becomes inbox rows", () => {
  it("keeps one row per update with a user, in Telegram's order, and skips the rest", () => {
    const batch = [message(1, 10), message(2, 20), message(3, 10), message(4, undefined), message(5, 20), message(6, 10)]
    expect(inboxRowsOf(batch).map((row) => [row.updateId, row.userId])).toEqual([[1, 10], [2, 20], [3, 10], [5, 20], [6, 10]])
  })

  it("stores the update as JSON text that gives back the update, U+0000 included", () => {
    const update = message(7, 30, "a\u0000b")
    const [row] = inboxRowsOf([update])
    expect(row!.payload).not.toContain("\u0000")
    expect(JSON.parse(row!.payload)).toEqual(update)
  })
})
