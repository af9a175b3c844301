/**
 * The command menu registered at start-up and the prices shown at each setting, end to end
 * through the Bot API simulator on both databases.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { messagesFor } from "../../src/i18n/index.js"
import { operatorTexts } from "../../src/i18n/operator.js"
import { catalog, creditsFor } from "../../src/kie/models.js"
import { settingsCallbackData } from "../../src/telegram/callback-data.js"
import { CommandMenuLive } from "../../src/telegram/command-menu.js"
import { botCommands } from "../../src/telegram/commands.js"
import { dialects } from "../support/database.js"
import { ADMIN_ID, countText, eventually, hasText, inSystem, pollingSystem, startSystemSimulators, textsTo, user } from "../e2e/support.js"

const names = (menu: ReadonlyArray<{ readonly command: string }>) => menu.map((c) => c.command)
const userNames = Object.keys(botCommands).filter((name) => botCommands[name as keyof typeof botCommands] === "user")
const adminNames = Object.keys(botCommands).filter((name) => botCommands[name as keyof typeof botCommands] === "admin")

describe.each(dialects)("the command menu and the prices on %s", (dialect) => {
  it.scoped("registered at start-up in English and Russian, with the admins' commands in the admins' chats; every entry answers", () =>
    Effect.gen(function*() {
      // 9001 is an admin who never opened the bot: their list is refused, the others are set.
      const sims = yield* startSystemSimulators(dialect, { env: { ADMIN_IDS: `${ADMIN_ID},9001` } })
      const sim = sims.telegram
      const ann = user(sims, 7701)
      const ivan = user(sims, 7702, "ru")
      user(sims, ADMIN_ID)
      yield* inSystem(CommandMenuLive.pipe(Layer.provideMerge(pollingSystem(sims))), Effect.gen(function*() {
        yield* eventually(sims, "menus set", () => sim.callsOf("setMyCommands").length === 6)
        assert.strictEqual(sim.callsOf("setMyCommands").filter((c) => c.outcome.ok).length, 4)

        const en = messagesFor("en")
        const ru = messagesFor("ru")
        assert.deepStrictEqual(sim.commandMenu(7701), userNames.map((command) => ({ command, description: en.commandMenu[command as keyof typeof en.commandMenu] })))
        assert.deepStrictEqual(sim.commandMenu(7702), userNames.map((command) => ({ command, description: ru.commandMenu[command as keyof typeof ru.commandMenu] })))
        assert.deepStrictEqual(names(sim.commandMenu(ADMIN_ID)), [...userNames, ...adminNames])
        assert.strictEqual(sim.commandMenu(ADMIN_ID).find((c) => c.command === "forget")?.description, operatorTexts.commandMenu.forget)
        sim.setUserLanguage(ADMIN_ID, "ru")
        assert.deepStrictEqual(names(sim.commandMenu(ADMIN_ID)), [...userNames, ...adminNames])
        assert.strictEqual(sim.commandMenu(ADMIN_ID)[0]?.description, ru.commandMenu.start)

        // Each command of the menu has its handler: none gets the unknown-command answer.
        for (const name of userNames) ann.sendCommand(name)
        for (const name of userNames) ivan.sendCommand(name)
        yield* eventually(sims, "every command answered", () => textsTo(sim, 7701).length >= userNames.length && textsTo(sim, 7702).length >= userNames.length)
        const admin = user(sims, ADMIN_ID)
        for (const name of adminNames) admin.sendCommand(name)
        yield* eventually(sims, "every admin command answered", () => textsTo(sim, ADMIN_ID).length >= adminNames.length)
        assert.isFalse(hasText(sim, 7701, en.unknownCommand))
        assert.isFalse(hasText(sim, 7702, ru.unknownCommand))
        assert.isFalse(hasText(sim, ADMIN_ID, ru.unknownCommand) || hasText(sim, ADMIN_ID, en.unknownCommand))
        // To a user, the admins' commands do not exist.
        ann.sendCommand("forget", "7702")
        yield* eventually(sims, "unknown to a user", () => hasText(sim, 7701, en.unknownCommand))
      }))
    }), 180_000)

  it.scoped("every setting's price is what /start, /help, /balance and /buy say; an empty balance points to /buy", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect, { env: { FREE_TOKENS: "0", FLOOD_LIMIT_PER_MINUTE: "1000" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const eve = user(sims, 7703)
        const en = messagesFor("en")
        for (const model of catalog) {
          for (const duration of model.durations) {
            const settingsShown = countText(sim, 7703, "Choose the model and duration")
            eve.sendCommand("settings")
            yield* eventually(sims, "settings", () => countText(sim, 7703, "Choose the model and duration") > settingsShown)
            eve.pressButton(settingsCallbackData(model.slug, duration))
            yield* eventually(sims, `saved ${model.label} ${duration}`, () => hasText(sim, 7703, `Saved: ${model.label}, ${duration} s`))
            const line = `A video with your settings (${model.label}, ${duration} s) costs ${en.credits(creditsFor(model, duration)!)}.`
            for (const command of ["start", "help", "balance", "buy"]) eve.sendCommand(command)
            yield* eventually(sims, line, () => countText(sim, 7703, line) === 4)
          }
        }
        const balances = textsTo(sim, 7703).filter((t) => t.startsWith("Balance:"))
        assert.isTrue(balances.every((t) => t.includes("That is not enough for a video: /buy gets more credits.")))
        assert.isTrue(textsTo(sim, 7703).filter((t) => t.startsWith("Hi ")).every((t) => t.includes("/buy gets more credits")))

        const ivan = user(sims, 7704, "ru")
        ivan.sendCommand("settings")
        yield* eventually(sims, "settings", () => hasText(sim, 7704, "Выберите модель"))
        const seedance = catalog.find((model) => model.durations.includes(12))!
        ivan.pressButton(settingsCallbackData(seedance.slug, 12))
        yield* eventually(sims, "saved", () => hasText(sim, 7704, "Сохранено"))
        ivan.sendCommand("balance")
        yield* eventually(sims, "price in Russian", () =>
          hasText(sim, 7704, `Видео с вашими настройками (${seedance.label}, 12 с) стоит 3 кредита.\nНа видео не хватает: купить кредиты — /buy.`))
      }))
    }), 240_000)
})
