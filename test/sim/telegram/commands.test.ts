import { Api } from "grammy"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { TelegramSimulator } from "../../../src/sim/telegram/index.js"

describe("TelegramSimulator: command lists per scope and language", () => {
  let sim: TelegramSimulator
  let api: Api
  const list = (...names: Array<string>) => names.map((command) => ({ command, description: `about ${command}` }))

  beforeEach(async () => {
    sim = await new TelegramSimulator().start()
    api = new Api(sim.token, { apiRoot: sim.url })
    sim.createUser({ id: 3001, first_name: "Ann", language_code: "en" })
    sim.createUser({ id: 3002, first_name: "Ivan", language_code: "ru" })
    sim.createUser({ id: 3003, first_name: "Admin", language_code: "ru-RU" })
  })
  afterEach(() => sim.stop())

  it("keeps one list per scope and language; getMyCommands reads exactly that one", async () => {
    await api.setMyCommands(list("start", "help"))
    await api.setMyCommands(list("start", "pomoshch"), { language_code: "ru" })
    await api.setMyCommands(list("start", "stats"), { scope: { type: "chat", chat_id: 3003 } })
    expect(await api.getMyCommands()).toEqual(list("start", "help"))
    expect(await api.getMyCommands({ language_code: "ru" })).toEqual(list("start", "pomoshch"))
    expect(await api.getMyCommands({ language_code: "de" })).toEqual([])
    expect(await api.getMyCommands({ scope: { type: "chat", chat_id: 3003 } })).toEqual(list("start", "stats"))
  })

  it("shows each user the list Telegram would pick: their chat's, then their language's, then the default", async () => {
    await api.setMyCommands(list("start", "help"))
    await api.setMyCommands(list("start", "pomoshch"), { language_code: "ru" })
    await api.setMyCommands(list("start", "stats"), { scope: { type: "chat", chat_id: 3003 } })
    expect(sim.commandMenu(3001)).toEqual(list("start", "help"))
    expect(sim.commandMenu(3002)).toEqual(list("start", "pomoshch"))
    expect(sim.commandMenu(3003)).toEqual(list("start", "stats"))
    await api.setMyCommands(list("start", "statistika"), { scope: { type: "chat", chat_id: 3003 }, language_code: "ru" })
    expect(sim.commandMenu(3003)).toEqual(list("start", "statistika"))
    // An empty list removes one; deleteMyCommands too.
    await api.setMyCommands([], { scope: { type: "chat", chat_id: 3003 }, language_code: "ru" })
    await api.deleteMyCommands({ scope: { type: "chat", chat_id: 3003 } })
    expect(sim.commandMenu(3003)).toEqual(list("start", "pomoshch"))
  })

  it("refuses what Telegram refuses: bad names and descriptions, unknown scopes and chats, bad language codes", async () => {
    const refused = (promise: Promise<unknown>, description: string) =>
      expect(promise).rejects.toMatchObject({ error_code: 400, description: `Bad Request: ${description}` })
    await refused(api.setMyCommands(list("Start")), "BOT_COMMAND_INVALID")
    await refused(api.setMyCommands([{ command: "start", description: "" }]), "BOT_COMMAND_DESCRIPTION_INVALID")
    await refused(api.setMyCommands([{ command: "start", description: "x".repeat(257) }]), "BOT_COMMAND_DESCRIPTION_INVALID")
    await refused(api.setMyCommands(list(...Array.from({ length: 101 }, (_, i) => `c${i}`))), "BOT_COMMANDS_TOO_MUCH")
    await refused(api.setMyCommands(list("start"), { language_code: "rus" as never }), "LANG_CODE_INVALID")
    await refused(api.setMyCommands(list("start"), { scope: { type: "chat", chat_id: 999 } }), "chat not found")
    await refused(api.setMyCommands(list("start"), { scope: { type: "everywhere" } as never }), "can't parse BotCommandScope JSON object")
    await refused(
      api.setMyCommands(list("start"), { scope: { type: "chat_member", chat_id: 3001 } as never }),
      "can't parse BotCommandScope JSON object: user_id is required"
    )
    expect(await api.getMyCommands()).toEqual([])
  })
})
