/**
 * Users, their private chats with the bot and the messages in them. Message ids are sequential
 * per chat and shared by both sides, as in a real private chat. Messages keep their current
 * content (after edits) and a `deleted` flag so tests can read the chat as the user sees it.
 */
import type { Chat, Message, User } from "grammy/types"
import { chatNotFound, forbidden } from "./api-error.js"
import { unixTime } from "./ids.js"

export interface NewUser {
  readonly id: number
  readonly first_name: string
  readonly last_name?: string
  readonly username?: string
  readonly language_code?: string
  readonly is_premium?: true
}

export type Sender = "bot" | "user"

export interface StoredMessage {
  readonly chatId: number
  readonly sender: Sender
  /** The message as it looks now (edits applied). */
  message: Message
  deleted: boolean
  editCount: number
}

interface ChatState {
  readonly chat: Chat.PrivateChat
  user: User
  nextMessageId: number
  readonly messages: Map<number, StoredMessage>
  /** The user blocked the bot: every send to this chat answers 403. */
  blocked: boolean
}

export class Chats {
  private readonly chats = new Map<number, ChatState>()

  constructor(readonly bot: User) {}

  addUser(input: NewUser): User {
    if (this.chats.has(input.id)) throw new Error(`user ${input.id} already exists`)
    const user: User = {
      id: input.id,
      is_bot: false,
      first_name: input.first_name,
      ...(input.last_name === undefined ? {} : { last_name: input.last_name }),
      ...(input.username === undefined ? {} : { username: input.username }),
      ...(input.language_code === undefined ? {} : { language_code: input.language_code }),
      ...(input.is_premium === undefined ? {} : { is_premium: input.is_premium })
    }
    const chat: Chat.PrivateChat = {
      id: user.id,
      type: "private",
      first_name: user.first_name,
      ...(user.last_name === undefined ? {} : { last_name: user.last_name }),
      ...(user.username === undefined ? {} : { username: user.username })
    }
    this.chats.set(user.id, { chat, user, nextMessageId: 1, messages: new Map(), blocked: false })
    return user
  }

  user(id: number): User | undefined {
    return this.chats.get(id)?.user
  }

  /** The user switched their app's language: their next updates carry the new language_code. */
  setLanguage(id: number, languageCode: string): User {
    const state = this.state(id)
    state.user = { ...state.user, language_code: languageCode }
    return state.user
  }

  users(): Array<User> {
    return [...this.chats.values()].map((c) => c.user)
  }

  /** Resolves `chat_id` (a number or "@username") or answers 400 "chat not found". */
  resolveChatId(chatId: unknown): number {
    if (typeof chatId === "number" && this.chats.has(chatId)) return chatId
    if (typeof chatId === "string") {
      if (/^-?\d+$/.test(chatId) && this.chats.has(Number(chatId))) return Number(chatId)
      if (chatId.startsWith("@")) {
        for (const state of this.chats.values()) {
          if (state.user.username !== undefined && `@${state.user.username}` === chatId) return state.chat.id
        }
      }
    }
    throw chatNotFound()
  }

  chat(chatId: number): Chat.PrivateChat {
    return this.state(chatId).chat
  }

  setBlocked(chatId: number, blocked: boolean): void {
    this.state(chatId).blocked = blocked
  }

  /** Throws 403 when the user has blocked the bot. */
  assertCanSend(chatId: number): void {
    if (this.state(chatId).blocked) throw forbidden("bot was blocked by the user")
  }

  /** Adds a message; `build` receives the common fields (id, date, chat, from). */
  append(
    chatId: number,
    sender: Sender,
    build: (base: Pick<Message, "message_id" | "date" | "chat" | "from">) => Message
  ): StoredMessage {
    const state = this.state(chatId)
    const base = {
      message_id: state.nextMessageId++,
      date: unixTime(),
      chat: state.chat,
      from: sender === "bot" ? this.bot : state.user
    }
    const stored: StoredMessage = { chatId, sender, message: build(base), deleted: false, editCount: 0 }
    state.messages.set(base.message_id, stored)
    return stored
  }

  /** A live (not deleted) message, if any. */
  message(chatId: number, messageId: number): StoredMessage | undefined {
    const stored = this.chats.get(chatId)?.messages.get(messageId)
    return stored === undefined || stored.deleted ? undefined : stored
  }

  /** Every message of the chat in order, deleted ones included (flagged). */
  history(chatId: number): Array<StoredMessage> {
    return [...this.state(chatId).messages.values()]
  }

  private state(chatId: number): ChatState {
    const state = this.chats.get(chatId)
    if (state === undefined) throw chatNotFound()
    return state
  }
}
