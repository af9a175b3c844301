/**
 * A simulated Telegram user talking to the bot: sends text, commands, photos, documents,
 * stickers, videos and voice notes, presses inline buttons, pays invoices, blocks the bot.
 * Every action creates the message in the chat and queues the update the bot will receive.
 */
import type { CallbackQuery, InlineKeyboardButton, Message, Update, User } from "grammy/types"
import type { CallbackAnswer, CallbackQueries } from "./callback-queries.js"
import type { Chats, StoredMessage } from "./chats.js"
import type { FileStore } from "./files.js"
import { randomToken, unixTime } from "./ids.js"
import { documentObject, photoSizes, stickerObject, videoObject, voiceObject } from "./media.js"
import type { ForgedInvoice, Invoice, PaymentOutcome, Payments, SuccessfulPaymentDelivery } from "./payments.js"
import type { Updates } from "./updates.js"

export interface Sent {
  readonly message: Message
  /** The update queued for the bot; undefined when allowed_updates filtered it out. */
  readonly update: Update | undefined
}

export interface Pressed {
  readonly callbackQuery: CallbackQuery
  readonly update: Update | undefined
  /** Resolves with the bot's answerCallbackQuery (rejects after the timeout, default 10 s). */
  answered(timeoutMs?: number): Promise<CallbackAnswer>
}

export interface UserWorld {
  readonly chats: Chats
  readonly files: FileStore
  readonly updates: Updates
  readonly payments: Payments
  readonly callbacks: CallbackQueries
  readonly defaultPaymentDelivery: () => SuccessfulPaymentDelivery
}

/** Which invoice to pay: a bot-sent invoice message id, an invoice link, an Invoice record, or a forged one. */
export type InvoiceRef = number | string | Invoice | ForgedInvoice

export class SimUser {
  private readonly chatInstance = randomToken(12)

  constructor(private readonly initial: User, private readonly world: UserWorld) {}

  /** As the user is now (a language change shows in the next update). */
  get user(): User {
    return this.world.chats.user(this.initial.id) ?? this.initial
  }

  get id(): number {
    return this.initial.id
  }

  /** Text, or with `replyTo` a Telegram reply to one of the chat's messages (by id). */
  sendText(text: string, options: { replyTo?: number } = {}): Sent {
    const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text)
    return this.post({
      text,
      ...(command === null ? {} : { entities: [{ type: "bot_command", offset: 0, length: command[0].length }] }),
      ...this.replyTo(options.replyTo)
    })
  }

  /** A sticker sent as a reply, and the like: `reply_to_message` for a message of this chat. */
  private replyTo(messageId: number | undefined): Pick<Message, "reply_to_message"> {
    if (messageId === undefined) return {}
    const target = this.history().find((m) => !m.deleted && m.message.message_id === messageId)
    if (target === undefined) throw new Error(`user ${this.id} has no message ${messageId} to reply to`)
    const { reply_to_message: _nested, ...message } = target.message
    return { reply_to_message: message as NonNullable<Message["reply_to_message"]> }
  }

  /** `/name` or `/name args`, with the bot_command entity; `name` without the slash. */
  sendCommand(name: string, args?: string, options: { replyTo?: number } = {}): Sent {
    return this.sendText(`/${name}${args === undefined || args === "" ? "" : ` ${args}`}`, options)
  }

  /** A photo as Telegram delivers it: several PhotoSize entries, the last the largest. */
  sendPhoto(bytes: Uint8Array, options: { caption?: string; width?: number; height?: number } = {}): Sent {
    const photo = photoSizes(this.world.files, Buffer.from(bytes), options.width ?? 1280, options.height ?? 960)
    return this.post({ photo, ...caption(options.caption) })
  }

  /** A file sent "as a file" (no compression): an image document or any other file. */
  sendDocument(bytes: Uint8Array, options: { fileName?: string; mimeType?: string; caption?: string } = {}): Sent {
    const file = this.world.files.add("document", Buffer.from(bytes), {
      file_name: options.fileName ?? "file.dat",
      mime_type: options.mimeType ?? "application/octet-stream"
    })
    return this.post({ document: documentObject(file), ...caption(options.caption) })
  }

  sendSticker(options: { emoji?: string; bytes?: Uint8Array; replyTo?: number } = {}): Sent {
    const file = this.world.files.add("sticker", Buffer.from(options.bytes ?? new Uint8Array(64)), { mime_type: "image/webp" })
    return this.post({ sticker: stickerObject(file, options.emoji ?? "👍"), ...this.replyTo(options.replyTo) })
  }

  sendVideo(bytes: Uint8Array, options: { caption?: string; duration?: number; width?: number; height?: number; fileName?: string } = {}): Sent {
    const file = this.world.files.add("video", Buffer.from(bytes), { mime_type: "video/mp4", file_name: options.fileName })
    const dims = {
      ...(options.width === undefined ? {} : { width: options.width }),
      ...(options.height === undefined ? {} : { height: options.height }),
      ...(options.duration === undefined ? {} : { duration: options.duration })
    }
    return this.post({ video: videoObject(file, dims), ...caption(options.caption) })
  }

  sendVoice(bytes: Uint8Array, options: { duration?: number } = {}): Sent {
    const file = this.world.files.add("voice", Buffer.from(bytes), { mime_type: "audio/ogg" })
    return this.post({ voice: voiceObject(file, options.duration ?? 1) })
  }

  /** Edits one of the user's own text messages; the bot gets an edited_message update. */
  editText(messageId: number, text: string): Sent {
    const stored = this.history().find((m) => m.sender === "user" && !m.deleted && m.message.message_id === messageId)
    if (stored === undefined || stored.message.text === undefined) throw new Error(`user ${this.id} has no text message ${messageId}`)
    stored.message = { ...stored.message, text, edit_date: unixTime() }
    stored.editCount++
    const update = this.world.updates.push({ edited_message: stored.message as NonNullable<Update["edited_message"]> })
    return { message: stored.message, update }
  }

  /**
   * Presses an inline callback button on a message the bot sent (by message or id; default the
   * latest bot message with buttons), chosen by its callback_data or its label.
   */
  pressButton(button: string, message?: Message | number): Pressed {
    const target = this.findBotMessage(message, (m) => m.message.reply_markup !== undefined)
    const buttons: Array<InlineKeyboardButton> = target.message.reply_markup?.inline_keyboard.flat() ?? []
    const found = buttons.find((b) => "callback_data" in b && b.callback_data === button) ??
      buttons.find((b) => b.text === button && "callback_data" in b)
    if (found === undefined || !("callback_data" in found)) {
      throw new Error(`message ${target.message.message_id} has no callback button "${button}"`)
    }
    const callbackQuery: CallbackQuery = {
      id: this.world.callbacks.open(this.id),
      from: this.user,
      message: target.message as CallbackQuery["message"] & Message,
      chat_instance: this.chatInstance,
      data: found.callback_data
    }
    const update = this.world.updates.push({ callback_query: callbackQuery })
    return {
      callbackQuery,
      update,
      answered: (timeoutMs = 10_000) => this.world.callbacks.waitForAnswer(callbackQuery.id, timeoutMs)
    }
  }

  /**
   * Opens an invoice and pays: the bot gets a pre_checkout_query and must answer within the
   * deadline; on ok the user's chat gets a successful_payment message. Default: the latest
   * invoice the bot sent to this user.
   */
  payInvoice(invoice?: InvoiceRef, options: { delivery?: SuccessfulPaymentDelivery } = {}): Promise<PaymentOutcome> {
    return this.world.payments.pay(this.user, this.findInvoice(invoice), options.delivery ?? this.world.defaultPaymentDelivery())
  }

  /** Blocks the bot: sends to this chat now answer 403; the bot gets a my_chat_member update. */
  blockBot(): void {
    this.world.chats.setBlocked(this.id, true)
    this.memberUpdate("member", "kicked")
  }

  unblockBot(): void {
    this.world.chats.setBlocked(this.id, false)
    this.memberUpdate("kicked", "member")
  }

  /** The chat as the user sees it, oldest first (deleted messages flagged). */
  history(): Array<StoredMessage> {
    return this.world.chats.history(this.id)
  }

  /** The live messages the bot sent to this user, oldest first. */
  botMessages(): Array<Message> {
    return this.history().filter((m) => m.sender === "bot" && !m.deleted).map((m) => m.message)
  }

  lastBotMessage(): Message | undefined {
    return this.botMessages().at(-1)
  }

  private post(content: Partial<Message>): Sent {
    const stored = this.world.chats.append(this.id, "user", (base) => ({ ...base, ...content } as Message))
    const update = this.world.updates.push({ message: stored.message as Update["message"] & Message })
    return { message: stored.message, update }
  }

  private findBotMessage(ref: Message | number | undefined, fallback: (m: StoredMessage) => boolean): StoredMessage {
    const messages = this.history().filter((m) => m.sender === "bot" && !m.deleted)
    const found = ref === undefined
      ? messages.filter(fallback).at(-1)
      : messages.find((m) => m.message.message_id === (typeof ref === "number" ? ref : ref.message_id))
    if (found === undefined) throw new Error(`user ${this.id} has no such bot message`)
    return found
  }

  private findInvoice(ref: InvoiceRef | undefined): Invoice | ForgedInvoice {
    if (typeof ref === "object") return ref
    const invoices = this.world.payments.invoices()
    const found = ref === undefined
      ? invoices.filter((i) => i.chatId === this.id).at(-1)
      : typeof ref === "number"
      ? invoices.find((i) => i.chatId === this.id && i.messageId === ref)
      : invoices.find((i) => i.link === ref)
    if (found === undefined) throw new Error(`user ${this.id} has no such invoice`)
    return found
  }

  private memberUpdate(from: "member" | "kicked", to: "member" | "kicked"): void {
    const bot = this.world.chats.bot
    const member = (status: "member" | "kicked") =>
      status === "member" ? { status, user: bot } as const : { status, user: bot, until_date: 0 } as const
    this.world.updates.push({
      my_chat_member: {
        chat: this.world.chats.chat(this.id),
        from: this.user,
        date: unixTime(),
        old_chat_member: member(from),
        new_chat_member: member(to)
      }
    })
  }
}

const caption = (text: string | undefined): { caption?: string } => (text === undefined ? {} : { caption: text })
