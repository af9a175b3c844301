/**
 * The command menu Telegram clients show, made from the command table (./commands.ts) and
 * registered at start-up: the users' commands for everybody in each language the bot speaks
 * (English as the default list, the others by `language_code`), and for each admin, in their
 * own chat's scope, the users' commands followed by the admins'.
 */
import { Effect, Layer, LogLevel, Schedule } from "effect"
import type { Api } from "grammy"
import type { BotCommand, BotCommandScope } from "grammy/types"
import { AppConfig } from "../config/index.js"
import { type Language, languages, type Messages, messagesFor } from "../i18n/index.js"
import { operatorTexts } from "../i18n/operator.js"
import { logFailure } from "../observability/error-summary.js"
import { TelegramApi } from "./api.js"
import { classifyFailure } from "./classify.js"
import { type AdminCommand, botCommands, commandNames, type UserCommand } from "./commands.js"

const userCommands = commandNames.filter((name): name is UserCommand => botCommands[name] === "user")
const adminCommands = commandNames.filter((name): name is AdminCommand => botCommands[name] === "admin")

/** What every user sees in the menu, in the user's language. */
export const userMenu = (texts: Messages): Array<BotCommand> =>
  userCommands.map((name) => ({ command: name, description: texts.commandMenu[name] }))

/** An admin's menu: the users' commands, then the admins' (English, like all operator texts). */
export const adminMenu = (texts: Messages): Array<BotCommand> => [
  ...userMenu(texts),
  ...adminCommands.map((name) => ({ command: name, description: operatorTexts.commandMenu[name] }))
]

export interface MenuRegistration {
  readonly scope: BotCommandScope
  /** Undefined: the list for every language without a list of its own. */
  readonly languageCode: Language | undefined
  readonly commands: Array<BotCommand>
}

/** Every list to register: per language for everybody, and per language in each admin's chat. */
export const menuRegistrations = (adminIds: ReadonlyArray<number>): ReadonlyArray<MenuRegistration> =>
  languages.flatMap((language) => {
    const texts = messagesFor(language)
    const languageCode = language === "en" ? undefined : language
    return [
      { scope: { type: "default" } as const, languageCode, commands: userMenu(texts) },
      ...adminIds.map((chatId) => ({ scope: { type: "chat", chat_id: chatId } as const, languageCode, commands: adminMenu(texts) }))
    ]
  })

/**
 * One list, retried while Telegram cannot be reached. A refusal is final: an admin who has
 * never opened the bot has no chat yet ("chat not found"), and keeps the users' menu until
 * the next start.
 */
const register = (api: Api, registration: MenuRegistration) =>
  Effect.tryPromise({
    try: () =>
      api.setMyCommands(registration.commands, {
        scope: registration.scope,
        ...(registration.languageCode === undefined ? {} : { language_code: registration.languageCode })
      }),
    catch: (failure) => classifyFailure("setMyCommands", failure)
  }).pipe(
    Effect.tapError((error) => logFailure(LogLevel.Warning, "could not register a command menu", error)),
    Effect.retry({
      schedule: Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("1 minute"))),
      while: (error) => error._tag === "TelegramTransientError"
    }),
    Effect.as(true),
    Effect.orElseSucceed(() => false),
    Effect.annotateLogs({ scope: registration.scope.type, language: registration.languageCode ?? "default" })
  )

/**
 * Registers the menu once per start, in the background: the bot works without a menu, so a
 * Telegram that cannot be reached delays the menu, not the start.
 */
export const CommandMenuLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const api = yield* TelegramApi
    const { adminIds } = yield* AppConfig
    const registrations = menuRegistrations(adminIds)
    yield* Effect.forEach(registrations, (registration) => register(api, registration)).pipe(
      Effect.flatMap((done) =>
        Effect.logInfo(`command menu registered: ${done.filter(Boolean).length} of ${registrations.length} lists`)
      ),
      Effect.forkScoped
    )
  })
)
