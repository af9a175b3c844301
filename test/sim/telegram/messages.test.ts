import { Api, GrammyError, InlineKeyboard } from "grammy"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { TelegramSimulator } from "../../../src/sim/telegram/index.js"

describe("TelegramSimulator: sending, editing and answering", () => {
  let sim: TelegramSimulator
  let api: Api

  beforeEach(async () => {
    sim = await new TelegramSimulator({ bot: { username: "video_bot" } }).start()
    api = new Api(sim.token, { apiRoot: sim.url })
  })
  afterEach(() => sim.stop())

  it("listens on loopback and answers getMe with the bot user", async () => {
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const me = await api.getMe()
    expect(me).toMatchObject({ is_bot: true, username: "video_bot", id: sim.botInfo.id })
  })

  it("records sent messages with realistic Message objects and per-chat ids", async () => {
    const alice = sim.createUser({ id: 1001, first_name: "Alice", language_code: "en" })
    alice.sendText("hello")
    const first = await api.sendMessage(1001, "Welcome!", {
      reply_markup: new InlineKeyboard().text("Generate", "gen:1")
    })
    const second = await api.sendMessage(1001, "<b>Bold</b> &amp; more", { parse_mode: "HTML" })

    expect(first).toMatchObject({
      message_id: 2,
      chat: { id: 1001, type: "private", first_name: "Alice" },
      from: { id: sim.botInfo.id, is_bot: true },
      text: "Welcome!",
      reply_markup: { inline_keyboard: [[{ text: "Generate", callback_data: "gen:1" }]] }
    })
    expect(typeof first.date).toBe("number")
    expect(second.message_id).toBe(3)
    expect(second.text).toBe("Bold & more")
    expect(second.entities).toEqual([{ type: "bold", offset: 0, length: 4 }])
    expect(sim.sentMessages(1001).map((m) => m.text)).toEqual(["Welcome!", "Bold & more"])
    expect(alice.botMessages().map((m) => m.message_id)).toEqual([2, 3])
    expect(sim.callsOf("sendMessage")[0]!.params).toMatchObject({ chat_id: 1001, text: "Welcome!" })
  })

  it("edits messages, refuses a same-content edit and a missing message", async () => {
    sim.createUser({ id: 1002, first_name: "Bob" })
    const sent = await api.sendMessage(1002, "Queued")
    const edited = await api.editMessageText(1002, sent.message_id, "Generating…")
    expect(edited).toMatchObject({ message_id: sent.message_id, text: "Generating…" })
    expect(typeof (edited as { edit_date?: number }).edit_date).toBe("number")

    await expect(api.editMessageText(1002, sent.message_id, "Generating…")).rejects.toMatchObject({
      error_code: 400,
      description: expect.stringContaining("Bad Request: message is not modified")
    })
    await expect(api.editMessageText(1002, 999, "x")).rejects.toMatchObject({
      error_code: 400,
      description: "Bad Request: message to edit not found"
    })

    const withKeyboard = await api.editMessageReplyMarkup(1002, sent.message_id, {
      reply_markup: new InlineKeyboard().text("Cancel", "cancel:1")
    })
    expect(withKeyboard).toMatchObject({ reply_markup: { inline_keyboard: [[{ callback_data: "cancel:1" }]] } })

    expect(await api.deleteMessage(1002, sent.message_id)).toBe(true)
    await expect(api.deleteMessage(1002, sent.message_id)).rejects.toMatchObject({
      description: "Bad Request: message to delete not found"
    })
    await expect(api.editMessageText(1002, sent.message_id, "late")).rejects.toMatchObject({
      description: "Bad Request: message to edit not found"
    })
    expect(sim.chatHistory(1002).find((m) => m.message.message_id === sent.message_id)).toMatchObject({
      deleted: true,
      editCount: 2,
      message: { text: "Generating…" }
    })
  })

  it("delivers a button press as a callback_query and records the bot's answer", async () => {
    const carol = sim.createUser({ id: 1003, first_name: "Carol" })
    await api.sendMessage(1003, "Pick a model", {
      reply_markup: new InlineKeyboard().text("Kling", "model:kling").text("Veo", "model:veo")
    })
    const press = carol.pressButton("Veo")
    expect(press.callbackQuery).toMatchObject({ data: "model:veo", from: { id: 1003 }, message: { text: "Pick a model" } })
    expect(sim.unansweredCallbackQueries()).toEqual([press.callbackQuery.id])

    const [updates] = await Promise.all([api.getUpdates({ timeout: 1 })])
    expect(updates.map((u) => u.callback_query?.data)).toEqual(["model:veo"])

    expect(await api.answerCallbackQuery(press.callbackQuery.id, { text: "Veo selected" })).toBe(true)
    await expect(press.answered()).resolves.toMatchObject({ text: "Veo selected", showAlert: false })
    expect(sim.unansweredCallbackQueries()).toEqual([])
    await expect(api.answerCallbackQuery(press.callbackQuery.id)).rejects.toMatchObject({
      error_code: 400,
      description: "Bad Request: query is too old and response timeout expired or query ID is invalid"
    })
  })

  it("accepts chat actions and commands, and rejects unknown chats", async () => {
    sim.createUser({ id: 1004, first_name: "Dan" })
    expect(await api.sendChatAction(1004, "upload_video")).toBe(true)
    expect(await api.setMyCommands([{ command: "start", description: "Start" }, { command: "buy", description: "Buy credits" }])).toBe(true)
    expect(await api.getMyCommands()).toEqual([{ command: "start", description: "Start" }, { command: "buy", description: "Buy credits" }])
    await expect(api.setMyCommands([{ command: "Bad Command", description: "x" }])).rejects.toMatchObject({ error_code: 400 })
    const error = await api.sendMessage(424242, "hi").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(GrammyError)
    expect(error).toMatchObject({ error_code: 400, description: "Bad Request: chat not found" })
  })

  it("parses MarkdownV2 like Telegram: reserved characters must be escaped, entities closed", async () => {
    sim.createUser({ id: 1005, first_name: "Erin" })
    const ok = await api.sendMessage(1005, "*Done\\!* Your video is `ready` \\(5 s\\)", { parse_mode: "MarkdownV2" })
    expect(ok.text).toBe("Done! Your video is ready (5 s)")
    expect(ok.entities).toEqual([{ type: "bold", offset: 0, length: 5 }, { type: "code", offset: 20, length: 5 }])
    const link = await api.sendMessage(1005, "<a href=\"https://t.me/video_bot?start=ref\">Invite</a> a friend", { parse_mode: "HTML" })
    expect(link.entities).toEqual([{ type: "text_link", offset: 0, length: 6, url: "https://t.me/video_bot?start=ref" }])
    // Only the formatting changes: a real edit, not "message is not modified".
    const plain = await api.editMessageText(1005, link.message_id, "Invite a friend")
    expect(plain).not.toHaveProperty("entities")
    await expect(api.sendMessage(1005, "Balance: 5.", { parse_mode: "MarkdownV2" })).rejects.toMatchObject({
      error_code: 400,
      description: "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"
    })
    await expect(api.sendMessage(1005, "*bold", { parse_mode: "MarkdownV2" })).rejects.toMatchObject({
      description: "Bad Request: can't parse entities: Can't find end of Bold entity at byte offset 0"
    })
  })

  it("lets a user edit a message, delivered as edited_message", async () => {
    const fay = sim.createUser({ id: 1006, first_name: "Fay" })
    const { message } = fay.sendText("a cat")
    fay.editText(message.message_id, "a dog")
    const updates = await api.getUpdates()
    expect(updates.map((u) => (u.message ?? u.edited_message)?.text)).toEqual(["a cat", "a dog"])
    expect(updates[1]!.edited_message).toMatchObject({ message_id: message.message_id })
  })

  it("replies to a message with reply_to_message, and refuses a reply to a missing one", async () => {
    const gil = sim.createUser({ id: 1007, first_name: "Gil" })
    const { message } = gil.sendPhoto(Buffer.from("jpeg"), { caption: "animate" })
    const reply = await api.sendMessage(1007, "On it", { reply_parameters: { message_id: message.message_id } })
    expect(reply.reply_to_message).toMatchObject({ message_id: message.message_id, caption: "animate" })
    await expect(api.sendMessage(1007, "x", { reply_parameters: { message_id: 999 } })).rejects.toMatchObject({
      description: "Bad Request: message to be replied not found"
    })
    expect(await api.sendMessage(1007, "x", { reply_parameters: { message_id: 999, allow_sending_without_reply: true } }))
      .not.toHaveProperty("reply_to_message")
  })
})
