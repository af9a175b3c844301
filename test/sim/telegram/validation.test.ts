import { Api, InlineKeyboard, InputFile } from "grammy"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { TelegramSimulator } from "../../../src/sim/telegram/index.js"

/** Calls any method, with any payload, through grammY's real client. */
const rawCall = (api: Api, method: string, payload: Record<string, unknown>): Promise<unknown> =>
  (api.raw as unknown as Record<string, (p: Record<string, unknown>) => Promise<unknown>>)[method]!(payload)

describe("TelegramSimulator: rejects what the real Bot API rejects", () => {
  let sim: TelegramSimulator
  let api: Api

  beforeEach(async () => {
    sim = await new TelegramSimulator().start()
    api = new Api(sim.token, { apiRoot: sim.url })
    sim.createUser({ id: 2001, first_name: "Eve" })
  })
  afterEach(() => sim.stop())

  it("answers 404 Not Found to an unknown method", async () => {
    await expect(rawCall(api, "sendTelepathy", { chat_id: 2001 })).rejects.toMatchObject({
      error_code: 404,
      description: "Not Found"
    })
    expect(sim.calls.all().at(-1)).toMatchObject({ method: "sendTelepathy", outcome: { ok: false, error_code: 404 } })
  })

  it("treats method names case-insensitively", async () => {
    const message = await rawCall(api, "SENDMESSAGE", { chat_id: 2001, text: "hi" })
    expect(message).toMatchObject({ text: "hi" })
    expect(sim.callsOf("sendMessage")).toHaveLength(1)
  })

  it("answers 400 to a missing required field and to a field the spec does not have", async () => {
    await expect(rawCall(api, "sendMessage", { chat_id: 2001 })).rejects.toMatchObject({
      error_code: 400,
      description: "Bad Request: message text is empty"
    })
    await expect(rawCall(api, "answerCallbackQuery", {})).rejects.toMatchObject({
      error_code: 400,
      description: "Bad Request: parameter \"callback_query_id\" is required"
    })
    await expect(rawCall(api, "sendMessage", { chat_id: 2001, text: "x", colour: "red" })).rejects.toMatchObject({
      error_code: 400,
      description: "Bad Request: unknown parameter \"colour\" for method sendMessage"
    })
    await expect(rawCall(api, "sendMessage", { chat_id: 2001, text: "x", disable_notification: "maybe" })).rejects
      .toMatchObject({ error_code: 400, description: expect.stringContaining("disable_notification") })
    expect(sim.sentMessages()).toHaveLength(0)
  })

  it("answers 401 Unauthorized to a wrong token, for methods and files", async () => {
    const intruder = new Api("123:wrong", { apiRoot: sim.url })
    await expect(intruder.getMe()).rejects.toMatchObject({ error_code: 401, description: "Unauthorized" })
    const file = await fetch(`${sim.url}/file/bot123:wrong/photos/file_0.jpg`)
    expect(file.status).toBe(401)
  })

  it("enforces text, caption and callback_data limits", async () => {
    await expect(api.sendMessage(2001, "x".repeat(4097))).rejects.toMatchObject({
      description: "Bad Request: message is too long"
    })
    expect(await api.sendMessage(2001, "x".repeat(4096))).toMatchObject({ message_id: 1 })
    await expect(api.sendPhoto(2001, new InputFile(Buffer.from("jpeg"), "p.jpg"), { caption: "c".repeat(1025) })).rejects
      .toMatchObject({ description: "Bad Request: message caption is too long" })
    await expect(api.sendMessage(2001, "pick", { reply_markup: new InlineKeyboard().text("Go", "d".repeat(65)) })).rejects
      .toMatchObject({ error_code: 400, description: "Bad Request: BUTTON_DATA_INVALID" })
    expect(await api.sendMessage(2001, "pick", { reply_markup: new InlineKeyboard().text("Go", "d".repeat(64)) }))
      .toMatchObject({ reply_markup: { inline_keyboard: [[{ callback_data: "d".repeat(64) }]] } })
    await expect(api.sendMessage(2001, "<b>unclosed", { parse_mode: "HTML" })).rejects.toMatchObject({
      description: expect.stringContaining("Bad Request: can't parse entities")
    })
  })

  it("accepts GET query strings, form bodies and JSON alike", async () => {
    const viaGet = await fetch(`${sim.url}/bot${sim.token}/sendMessage?chat_id=2001&text=from%20get`)
    expect(await viaGet.json()).toMatchObject({ ok: true, result: { text: "from get" } })
    const viaForm = await fetch(`${sim.url}/bot${sim.token}/sendMessage`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ chat_id: "2001", text: "from form", reply_markup: JSON.stringify({ inline_keyboard: [[{ text: "a", callback_data: "b" }]] }) })
    })
    expect(await viaForm.json()).toMatchObject({ ok: true, result: { text: "from form", reply_markup: { inline_keyboard: [[{ text: "a" }]] } } })
    const viaMultipart = new FormData()
    viaMultipart.set("chat_id", "2001")
    viaMultipart.set("text", "from multipart")
    const answer = await fetch(`${sim.url}/bot${sim.token}/sendmessage`, { method: "POST", body: viaMultipart })
    expect(await answer.json()).toMatchObject({ ok: true, result: { text: "from multipart" } })
    expect(sim.sentMessages(2001).map((m) => m.text)).toEqual(["from get", "from form", "from multipart"])
  })
})
