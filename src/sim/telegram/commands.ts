/**
 * The bot's command lists (setMyCommands, getMyCommands, deleteMyCommands), one per scope and
 * language, checked as Telegram checks them, and the menu a user's app shows: the first list
 * found in Telegram's order for a private chat (the chat's scope, all private chats, the
 * default; each with the user's language first).
 */
import type { BotCommand } from "grammy/types"
import { badRequest } from "./api-error.js"
import type { Chats } from "./chats.js"
import type { Params } from "./spec-validation.js"

interface Scope {
  readonly type: string
  readonly chat_id?: unknown
  readonly user_id?: unknown
}

const scopeTypes: Record<string, ReadonlyArray<"chat_id" | "user_id">> = {
  default: [],
  all_private_chats: [],
  all_group_chats: [],
  all_chat_administrators: [],
  chat: ["chat_id"],
  chat_administrators: ["chat_id"],
  chat_member: ["chat_id", "user_id"]
}

export class BotCommands {
  private readonly lists = new Map<string, Array<BotCommand>>()

  constructor(private readonly chats: Chats) {}

  /** The list's key; a scope that names an unknown chat is refused as Telegram does. */
  private keyOf(params: Params): string {
    const scope = (params["scope"] ?? { type: "default" }) as Scope
    const fields = scopeTypes[scope.type]
    if (fields === undefined) throw badRequest("can't parse BotCommandScope JSON object")
    for (const field of fields) {
      if (scope[field] === undefined) throw badRequest(`can't parse BotCommandScope JSON object: ${field} is required`)
    }
    const chatId = fields.includes("chat_id") ? this.chats.resolveChatId(scope.chat_id) : ""
    const language = (params["language_code"] as string | undefined) ?? ""
    if (!/^([a-z]{2})?$/.test(language)) throw badRequest("LANG_CODE_INVALID")
    return `${scope.type}:${chatId}:${scope.user_id ?? ""}|${language}`
  }

  set(params: Params): true {
    const commands = params["commands"] as Array<Partial<BotCommand>>
    if (commands.length > 100) throw badRequest("BOT_COMMANDS_TOO_MUCH")
    for (const c of commands) {
      if (typeof c.command !== "string" || !/^[a-z0-9_]{1,32}$/.test(c.command)) throw badRequest("BOT_COMMAND_INVALID")
      if (typeof c.description !== "string" || c.description.length < 1 || c.description.length > 256) {
        throw badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
      }
    }
    const key = this.keyOf(params)
    // An empty list is how a bot removes one.
    if (commands.length === 0) this.lists.delete(key)
    else this.lists.set(key, commands.map((c) => ({ command: c.command!, description: c.description! })))
    return true
  }

  get(params: Params): Array<BotCommand> {
    return this.lists.get(this.keyOf(params)) ?? []
  }

  delete(params: Params): true {
    this.lists.delete(this.keyOf(params))
    return true
  }

  /** What the user's app shows in their private chat with the bot. */
  menuFor(userId: number): Array<BotCommand> {
    const language = (this.chats.user(userId)?.language_code ?? "").slice(0, 2).toLowerCase()
    const scopes = [`chat:${userId}:`, "all_private_chats::", "default::"]
    for (const scope of scopes) {
      for (const key of language === "" ? [`${scope}|`] : [`${scope}|${language}`, `${scope}|`]) {
        const found = this.lists.get(key)
        if (found !== undefined) return found
      }
    }
    return []
  }
}
