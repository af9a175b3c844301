import { Api, Bot, webhookCallback } from "grammy"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { TelegramSimulator } from "../../../src/sim/telegram/index.js"

interface Receiver {
  readonly url: string
  readonly requests: Array<{ headers: IncomingHttpHeaders; body: { update_id: number; message?: { text?: string } } }>
  close(): Promise<void>
}

/** A webhook receiver on loopback that answers `statuses` in turn (then 200). */
const receiver = async (statuses: Array<number> = []): Promise<Receiver> => {
  const requests: Receiver["requests"] = []
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      requests.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) })
      res.statusCode = statuses.shift() ?? 200
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/telegram`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

describe("TelegramSimulator: updates out", () => {
  let sim: TelegramSimulator
  let api: Api

  beforeEach(async () => {
    sim = await new TelegramSimulator({ webhook: { retryDelayMs: 10, maxAttempts: 5 } }).start()
    api = new Api(sim.token, { apiRoot: sim.url })
  })
  afterEach(() => sim.stop())

  it("long-polls: getUpdates waits for the next update and confirms by offset", async () => {
    const frank = sim.createUser({ id: 3001, first_name: "Frank" })
    const poll = api.getUpdates({ timeout: 10 })
    await sim.waitForLongPoll()
    frank.sendCommand("start", "ref_42")
    const [update] = await poll
    expect(update).toMatchObject({
      message: { text: "/start ref_42", entities: [{ type: "bot_command", offset: 0, length: 6 }], from: { id: 3001 } }
    })

    frank.sendText("second")
    const again = await api.getUpdates({ timeout: 0 })
    expect(again.map((u) => u.message?.text)).toEqual(["/start ref_42", "second"])
    expect(again[1]!.update_id).toBe(update!.update_id + 1)

    const afterOffset = await api.getUpdates({ offset: update!.update_id + 1, timeout: 0 })
    expect(afterOffset.map((u) => u.message?.text)).toEqual(["second"])
    expect(await api.getUpdates({ offset: again[1]!.update_id + 1, timeout: 0 })).toEqual([])
    expect(sim.pendingUpdates).toBe(0)
  })

  it("answers an empty list when the long poll times out, and honours limit", async () => {
    const grace = sim.createUser({ id: 3002, first_name: "Grace" })
    expect(await api.getUpdates({ timeout: 1 })).toEqual([])
    grace.sendText("a")
    grace.sendText("b")
    grace.sendText("c")
    expect((await api.getUpdates({ limit: 2 })).map((u) => u.message?.text)).toEqual(["a", "b"])
  })

  it("honours allowed_updates when updates are created", async () => {
    const heidi = sim.createUser({ id: 3003, first_name: "Heidi" })
    await api.sendMessage(3003, "menu", { reply_markup: { inline_keyboard: [[{ text: "x", callback_data: "x" }]] } })
    await api.getUpdates({ allowed_updates: ["callback_query"], timeout: 0 })
    const text = heidi.sendText("ignored")
    const press = heidi.pressButton("x")
    expect(text.update).toBeUndefined()
    expect((await api.getUpdates({ timeout: 0 })).map((u) => u.callback_query?.data)).toEqual(["x"])
    expect(press.update).toBeDefined()
  })

  it("terminates the older of two concurrent getUpdates with 409", async () => {
    const first = api.getUpdates({ timeout: 10 }).catch((e: unknown) => e)
    await sim.waitForLongPoll()
    const second = api.getUpdates({ timeout: 1 })
    expect(await first).toMatchObject({
      error_code: 409,
      description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    })
    expect(await second).toEqual([])
  })

  it("refuses getUpdates with 409 while a webhook is set", async () => {
    const hook = await receiver()
    try {
      expect(await api.setWebhook(hook.url)).toBe(true)
      await expect(api.getUpdates()).rejects.toMatchObject({
        error_code: 409,
        description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
      })
      expect(await api.deleteWebhook()).toBe(true)
      expect(await api.getUpdates()).toEqual([])
    } finally {
      await hook.close()
    }
  })

  it("POSTs updates to the webhook with the secret header and retries failed deliveries", async () => {
    const hook = await receiver([500, 502])
    try {
      await api.setWebhook(hook.url, { secret_token: "s3cret_token-1" })
      const ivan = sim.createUser({ id: 3004, first_name: "Ivan" })
      const sent = ivan.sendText("via webhook")
      await expect.poll(() => sim.deliveries().length, { timeout: 5000, interval: 5 }).toBe(1)
      expect(hook.requests).toHaveLength(3)
      for (const request of hook.requests) {
        expect(request.headers["x-telegram-bot-api-secret-token"]).toBe("s3cret_token-1")
        expect(request.body).toEqual(sent.update)
      }
      expect(sim.deliveries()[0]).toMatchObject({ via: "webhook", update: { update_id: sent.update!.update_id } })
      const info = await api.getWebhookInfo()
      expect(info).toMatchObject({ url: hook.url, pending_update_count: 0, max_connections: 40 })
      expect(info.last_error_message).toBe("Wrong response from the webhook: 502 Bad Gateway")
    } finally {
      await hook.close()
    }
  })

  it("rejects a secret token with characters Telegram does not allow", async () => {
    await expect(api.setWebhook("http://127.0.0.1:9/x", { secret_token: "not allowed!" })).rejects.toMatchObject({
      error_code: 400,
      description: "Bad Request: secret token contains unallowed characters"
    })
  })

  it("drives a grammY bot end to end over a webhook (grammY checks the secret)", async () => {
    const bot = new Bot(sim.token, { botInfo: sim.botInfo, client: { apiRoot: sim.url } })
    bot.on("message:text", (ctx) => ctx.reply(`echo: ${ctx.message.text}`))
    const server = createServer(webhookCallback(bot, "http", { secretToken: "right" }))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
      await bot.api.setWebhook(url, { secret_token: "right" })
      const judy = sim.createUser({ id: 3005, first_name: "Judy" })
      judy.sendText("ping")
      const reply = await sim.waitForCall("sendMessage")
      expect(reply.outcome).toMatchObject({ ok: true, result: { text: "echo: ping", chat: { id: 3005 } } })
      expect(judy.lastBotMessage()?.text).toBe("echo: ping")
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  })

  it("drives a grammY bot end to end with bot.start() long polling", async () => {
    const bot = new Bot(sim.token, { botInfo: sim.botInfo, client: { apiRoot: sim.url } })
    bot.command("start", (ctx) => ctx.reply(`hello ${ctx.from?.first_name}, payload ${ctx.match}`))
    const running = bot.start({ timeout: 5 })
    const kate = sim.createUser({ id: 3006, first_name: "Kate", language_code: "de" })
    kate.sendCommand("start", "abc")
    const reply = await sim.waitForCall("sendMessage")
    expect(reply.outcome).toMatchObject({ ok: true, result: { text: "hello Kate, payload abc" } })
    await bot.stop()
    await running
    expect(sim.pendingUpdates).toBe(0)
  })

  it("keeps delivering other chats while one chat's update is being retried, then gives up on it", async () => {
    const failing = new Set([3101])
    const seen: Array<{ chat: number; ok: boolean }> = []
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const update = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { message: { chat: { id: number } } }
        const chat = update.message.chat.id
        seen.push({ chat, ok: !failing.has(chat) })
        res.statusCode = failing.has(chat) ? 500 : 200
        res.end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      await api.setWebhook(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
      const stuck = sim.createUser({ id: 3101, first_name: "Stuck" })
      const fine = sim.createUser({ id: 3102, first_name: "Fine" })
      stuck.sendText("first")
      stuck.sendText("second, waits behind the first")
      fine.sendText("independent")
      // Five attempts per update (maxAttempts in beforeEach) for each of the stuck chat's two updates.
      await expect.poll(() => sim.pendingUpdates, { timeout: 5000, interval: 5 }).toBe(0)
      expect(seen.filter((s) => s.chat === 3101)).toHaveLength(10)
      expect(seen.filter((s) => s.chat === 3102)).toEqual([{ chat: 3102, ok: true }])
      expect(seen.findIndex((s) => s.chat === 3102)).toBeLessThan(5)
      expect(sim.deliveries().map((d) => d.update.message?.chat.id)).toEqual([3102])
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  })

  it("executes a method returned in the webhook response body (webhook reply)", async () => {
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const update = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { message: { chat: { id: number } } }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ method: "sendMessage", chat_id: update.message.chat.id, text: "replied in the response" }))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      await api.setWebhook(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
      const lea = sim.createUser({ id: 3201, first_name: "Lea" })
      lea.sendText("hi")
      const call = await sim.waitForCall("sendMessage")
      expect(call.outcome).toMatchObject({ ok: true, result: { text: "replied in the response", chat: { id: 3201 } } })
      expect(lea.lastBotMessage()?.text).toBe("replied in the response")
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  })
})
