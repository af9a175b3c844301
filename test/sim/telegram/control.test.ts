import { Bot, InlineKeyboard } from "grammy"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { TelegramSimulator } from "../../../src/sim/telegram/index.js"

describe("TelegramSimulator: /sim/ control API for other processes", () => {
  let sim: TelegramSimulator
  let bot: Bot
  let running: Promise<void>

  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${sim.url}/sim/${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: response.status, body: (await response.json()) as { ok: boolean; result: unknown } }
  }

  beforeEach(async () => {
    sim = await new TelegramSimulator().start()
    bot = new Bot(sim.token, { botInfo: sim.botInfo, client: { apiRoot: sim.url } })
    bot.on("message:photo", (ctx) =>
      ctx.reply(`got ${ctx.message.photo.length} sizes: ${ctx.message.caption}`, {
        reply_markup: new InlineKeyboard().text("Generate", "gen")
      }))
    bot.callbackQuery("gen", (ctx) => ctx.answerCallbackQuery("Queued"))
    running = bot.start({ timeout: 2 })
  })
  afterEach(async () => {
    await bot.stop()
    await running
    await sim.stop()
  })

  it("creates a user, sends a photo, presses a button and reads calls over HTTP", async () => {
    expect((await control("POST", "users", { id: 7001, first_name: "Zoe", language_code: "fr" })).body.result).toMatchObject({
      id: 7001,
      language_code: "fr"
    })
    const photo = await control("POST", "users/7001/photo", { base64: Buffer.from("jpeg").toString("base64"), caption: "hi" })
    const sent = photo.body.result as { message: { photo: Array<unknown> } }
    expect(sent.message.photo).toHaveLength(4)
    await sim.waitForCall("sendMessage")
    const messages = (await control("GET", "users/7001/messages")).body.result as Array<unknown>
    expect(messages.at(-1)).toMatchObject({ sender: "bot", message: { text: "got 4 sizes: hi" } })

    const press = (await control("POST", "users/7001/press", { button: "Generate" })).body.result as { callbackQuery: { id: string } }
    expect(await sim.waitForCallbackAnswer(press.callbackQuery.id)).toMatchObject({ text: "Queued" })
    const calls = (await control("GET", "calls?since=0")).body.result as Array<{ method: string }>
    expect(calls.map((c) => c.method).filter((m) => m !== "getUpdates")).toEqual(["deleteWebhook", "sendMessage", "answerCallbackQuery"])

    expect((await control("POST", "users/999/text", { text: "x" })).status).toBe(400)
    expect((await control("GET", "nowhere")).status).toBe(404)
  })
})
