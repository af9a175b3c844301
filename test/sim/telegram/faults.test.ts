import { Api, GrammyError, HttpError } from "grammy"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { TelegramSimulator } from "../../../src/sim/telegram/index.js"

describe("TelegramSimulator: injected faults", () => {
  let sim: TelegramSimulator
  let api: Api

  beforeEach(async () => {
    sim = await new TelegramSimulator().start()
    api = new Api(sim.token, { apiRoot: sim.url })
    sim.createUser({ id: 5001, first_name: "Rita" })
    sim.createUser({ id: 5002, first_name: "Sam" })
  })
  afterEach(() => sim.stop())

  it("answers 429 with parameters.retry_after for the given number of calls", async () => {
    const fault = sim.injectFault({ kind: "retry_after", retryAfter: 7, method: "sendMessage", times: 2 })
    for (let i = 0; i < 2; i++) {
      const error = await api.sendMessage(5001, "hi").catch((e: unknown) => e)
      expect(error).toBeInstanceOf(GrammyError)
      expect(error).toMatchObject({
        error_code: 429,
        description: "Too Many Requests: retry after 7",
        parameters: { retry_after: 7 }
      })
    }
    expect(fault).toMatchObject({ hits: 2, remaining: 0 })
    expect(await api.sendMessage(5001, "hi")).toMatchObject({ text: "hi" })
    expect(await api.sendChatAction(5001, "typing")).toBe(true)
    expect(sim.callsOf("sendMessage").map((c) => [c.fault, c.outcome.ok])).toEqual([[true, false], [true, false], [false, true]])
    expect(sim.sentMessages(5001)).toHaveLength(1)
  })

  it("lets a retrying client honour retry_after", async () => {
    sim.injectFault({ kind: "retry_after", retryAfter: 1, times: 1 })
    const waits: Array<number> = []
    api.config.use(async (prev, method, payload, signal) => {
      const first = await prev(method, payload, signal)
      const retryAfter = first.ok ? undefined : first.parameters?.retry_after
      if (retryAfter === undefined) return first
      waits.push(retryAfter)
      await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000))
      return prev(method, payload, signal)
    })
    const started = Date.now()
    expect(await api.sendMessage(5001, "after waiting")).toMatchObject({ text: "after waiting" })
    expect(waits).toEqual([1])
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
  })

  it("answers 5xx for every method when the fault is global", async () => {
    const fault = sim.injectFault({ kind: "server_error", status: 502 })
    await expect(api.getMe()).rejects.toMatchObject({ error_code: 502, description: "Bad Gateway" })
    await expect(api.sendMessage(5001, "x")).rejects.toMatchObject({ error_code: 502 })
    fault.remove()
    expect(await api.getMe()).toMatchObject({ id: sim.botInfo.id })
  })

  it("answers 403 blocked for one chat only, by fault or because the user blocked the bot", async () => {
    sim.injectFault({ kind: "blocked", chatId: 5001, times: 1 })
    await expect(api.sendMessage(5001, "x")).rejects.toMatchObject({
      error_code: 403,
      description: "Forbidden: bot was blocked by the user"
    })
    expect(await api.sendMessage(5002, "x")).toMatchObject({ chat: { id: 5002 } })
    expect(await api.sendMessage(5001, "x")).toMatchObject({ chat: { id: 5001 } })

    const sam = sim.user(5002)
    sam.blockBot()
    await expect(api.sendVideo(5002, "BAACwhatever")).rejects.toMatchObject({ error_code: 403 })
    await expect(api.sendChatAction(5002, "upload_video")).rejects.toMatchObject({ error_code: 403 })
    const updates = await api.getUpdates()
    expect(updates.at(-1)?.my_chat_member).toMatchObject({ from: { id: 5002 }, new_chat_member: { status: "kicked" } })
    sam.unblockBot()
    expect(await api.sendMessage(5002, "welcome back")).toMatchObject({ text: "welcome back" })
  })

  it("closes the connection without an answer for a reset fault", async () => {
    const fault = sim.injectFault({ kind: "reset", method: "getMe", times: 1 })
    const error = await api.getMe().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HttpError)
    expect(String((error as HttpError).error)).toMatch(/socket hang up|ECONNRESET/)
    expect(fault).toMatchObject({ hits: 1, remaining: 0 })
    expect(await api.getMe()).toMatchObject({ id: sim.botInfo.id })
    expect(sim.callsOf("getMe").map((c) => [c.fault, c.outcome.ok])).toEqual([[true, false], [false, true]])
  })

  it("slows answers down without failing them", async () => {
    sim.injectFault({ kind: "delay", ms: 300, method: "editMessageText", times: 1 })
    const sent = await api.sendMessage(5001, "a")
    const started = Date.now()
    expect(await api.editMessageText(5001, sent.message_id, "b")).toMatchObject({ text: "b" })
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    const quick = Date.now()
    await api.editMessageText(5001, sent.message_id, "c")
    expect(Date.now() - quick).toBeLessThan(290)
  })

  it("emulates per-chat flood control with 429 and retry_after when configured", async () => {
    const limited = await new TelegramSimulator({ floodControl: { perChatPerSecond: 1, perChatBurst: 2 } }).start()
    try {
      const limitedApi = new Api(limited.token, { apiRoot: limited.url })
      limited.createUser({ id: 5101, first_name: "Tia" })
      limited.createUser({ id: 5102, first_name: "Ugo" })
      await limitedApi.sendMessage(5101, "1")
      await limitedApi.sendMessage(5101, "2")
      await expect(limitedApi.sendMessage(5101, "3")).rejects.toMatchObject({ error_code: 429, parameters: { retry_after: 1 } })
      expect(await limitedApi.sendChatAction(5101, "typing")).toBe(true)
      expect(await limitedApi.sendMessage(5102, "other chat")).toMatchObject({ text: "other chat" })
    } finally {
      await limited.stop()
    }
  })
})
