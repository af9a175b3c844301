/**
 * What each Bot API method does to the simulated world, after the request has been validated
 * against the spec. Methods a photo-to-video bot with Stars payments uses are implemented;
 * any other method that returns True is accepted and recorded; the rest answer 400.
 */
import type { InlineKeyboardMarkup, Message, MessageEntity, UserFromGetMe } from "grammy/types"
import { badRequest } from "./api-error.js"
import type { CallbackQueries } from "./callback-queries.js"
import type { Chats, StoredMessage } from "./chats.js"
import type { BotCommands } from "./commands.js"
import type { FileKind, FileStore } from "./files.js"
import { checkCaption, checkReplyMarkup, checkText, type Formatted } from "./formatting.js"
import { randomToken, unixTime } from "./ids.js"
import {
  documentObject,
  limits,
  photoSizes,
  resolveMedia,
  stickerObject,
  type UrlPolicy,
  videoObject,
  voiceObject
} from "./media.js"
import { checkInvoice, type Payments } from "./payments.js"
import type { MethodSpec, Params } from "./spec-validation.js"
import type { GetUpdatesParams, Updates } from "./updates.js"

export interface World {
  readonly bot: UserFromGetMe
  readonly chats: Chats
  readonly files: FileStore
  readonly updates: Updates
  readonly payments: Payments
  readonly callbacks: CallbackQueries
  readonly urlPolicy: UrlPolicy
  readonly commands: BotCommands
}

export interface CallContext {
  /** Resolves when the HTTP client goes away (for long polling). */
  readonly cancelled: Promise<void>
}

type Handler = (world: World, params: Params, call: CallContext) => unknown

const CHAT_ACTIONS = new Set([
  "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice", "upload_document",
  "choose_sticker", "find_location", "record_video_note", "upload_video_note"
])

const NOT_MODIFIED =
  "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

const str = (params: Params, key: string): string | undefined => params[key] as string | undefined
const int = (params: Params, key: string): number | undefined => params[key] as number | undefined

/** The chat a call targets, when it has one; used for "chat not found", blocks and chat-scoped faults. */
export const targetChat = (world: World, params: Params): number | undefined => {
  if (params["chat_id"] !== undefined) return world.chats.resolveChatId(params["chat_id"])
  if (typeof params["user_id"] === "number") return params["user_id"]
  return undefined
}

const replyMarkupOf = (params: Params): { reply_markup?: InlineKeyboardMarkup } => {
  const markup = checkReplyMarkup(params["reply_markup"])
  return markup === undefined ? {} : { reply_markup: markup }
}

/** `reply_parameters` → `reply_to_message`, or the real error when the message is gone. */
const replyTo = (world: World, chatId: number, params: Params): Pick<Message, "reply_to_message"> => {
  const reply = params["reply_parameters"] as { message_id?: number; allow_sending_without_reply?: boolean } | undefined
  if (reply?.message_id === undefined) return {}
  const target = world.chats.message(chatId, reply.message_id)
  if (target === undefined) {
    if (reply.allow_sending_without_reply === true) return {}
    throw badRequest("message to be replied not found")
  }
  const { reply_to_message: _nested, ...message } = target.message
  return { reply_to_message: message as NonNullable<Message["reply_to_message"]> }
}

const send = (world: World, params: Params, content: (base: Pick<Message, "message_id" | "date" | "chat" | "from">) => Message): Message => {
  const chatId = world.chats.resolveChatId(params["chat_id"])
  world.chats.assertCanSend(chatId)
  const reply = replyTo(world, chatId, params)
  return world.chats.append(chatId, "bot", (base) => ({ ...content(base), ...reply })).message
}

const entitiesOf = (params: Params, key: string): ReadonlyArray<MessageEntity> | undefined =>
  params[key] as ReadonlyArray<MessageEntity> | undefined

const textFields = (f: Formatted): Pick<Message, "text" | "entities"> =>
  f.entities.length === 0 ? { text: f.text } : { text: f.text, entities: [...f.entities] }

const captionFields = (f: Formatted | undefined): Pick<Message, "caption" | "caption_entities"> =>
  f === undefined ? {} : f.entities.length === 0 ? { caption: f.text } : { caption: f.text, caption_entities: [...f.entities] }

const captionOf = (params: Params): Pick<Message, "caption" | "caption_entities"> =>
  captionFields(checkCaption(str(params, "caption"), str(params, "parse_mode"), entitiesOf(params, "caption_entities")))

/** Telegram compares the visible text and its entities when deciding "not modified". */
interface Content {
  readonly text?: string | undefined
  readonly entities?: ReadonlyArray<MessageEntity> | undefined
}

const sameContent = (a: Content, b: Content): boolean =>
  a.text === b.text && JSON.stringify(a.entities ?? []) === JSON.stringify(b.entities ?? [])

const sendMedia = (kind: FileKind): Handler => async (world, params) => {
  const chatId = world.chats.resolveChatId(params["chat_id"])
  world.chats.assertCanSend(chatId)
  const caption = captionOf(params)
  const markup = replyMarkupOf(params)
  const reply = replyTo(world, chatId, params)
  const { file, fresh } = await resolveMedia(world.files, kind, params[kind], world.urlPolicy)
  const media = (() => {
    switch (kind) {
      case "photo": {
        const sizes = fresh ? photoSizes(world.files, file.bytes, 1280, 960) : [{
          file_id: file.file_id,
          file_unique_id: file.file_unique_id,
          width: 1280,
          height: 960,
          file_size: file.size
        }]
        return { photo: sizes }
      }
      case "video":
        return { video: videoObject(file, dims(params)) }
      case "animation":
        return { animation: { ...videoObject(file, dims(params)) } }
      case "voice":
        return { voice: voiceObject(file, int(params, "duration") ?? 1) }
      case "sticker":
        return { sticker: stickerObject(file, str(params, "emoji")) }
      case "audio":
        return { audio: { ...documentObject(file), duration: int(params, "duration") ?? 1 } }
      case "video_note":
        return { video_note: { file_id: file.file_id, file_unique_id: file.file_unique_id, length: 240, duration: int(params, "duration") ?? 1, file_size: file.size } }
      case "document":
        return { document: documentObject(file) }
    }
  })()
  return world.chats.append(chatId, "bot", (base) => ({ ...base, ...media, ...caption, ...markup, ...reply } as Message)).message
}

const dims = (params: Params) => ({
  ...(int(params, "width") === undefined ? {} : { width: int(params, "width")! }),
  ...(int(params, "height") === undefined ? {} : { height: int(params, "height")! }),
  ...(int(params, "duration") === undefined ? {} : { duration: int(params, "duration")! })
})

/** The bot's own live message addressed by chat_id + message_id, or the real "not found" error. */
const editable = (world: World, params: Params, missing: string): StoredMessage => {
  if (params["inline_message_id"] !== undefined) throw badRequest("MESSAGE_ID_INVALID")
  if (params["chat_id"] === undefined) throw badRequest("chat_id is empty")
  const chatId = world.chats.resolveChatId(params["chat_id"])
  const messageId = int(params, "message_id")
  if (messageId === undefined) throw badRequest("message identifier is not specified")
  const stored = world.chats.message(chatId, messageId)
  if (stored === undefined) throw badRequest(missing)
  if (stored.sender !== "bot") throw badRequest("message can't be edited")
  world.chats.assertCanSend(chatId)
  return stored
}

const sameMarkup = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)

const applyEdit = (stored: StoredMessage, changes: Partial<Message>, removed: ReadonlyArray<keyof Message>): Message => {
  const next: Message = { ...stored.message, ...changes, edit_date: unixTime() }
  for (const key of removed) delete next[key]
  stored.message = next
  stored.editCount++
  return stored.message
}

const handlers: Record<string, Handler> = {
  getMe: (world) => world.bot,
  logOut: () => true,
  close: () => true,

  getUpdates: (world, params, call) => world.updates.getUpdates(params as GetUpdatesParams, call.cancelled),
  setWebhook: (world, params) => {
    world.updates.setWebhook(params as Parameters<Updates["setWebhook"]>[0])
    return true
  },
  deleteWebhook: (world, params) => {
    world.updates.deleteWebhook(params["drop_pending_updates"] === true)
    return true
  },
  getWebhookInfo: (world) => world.updates.webhookInfo(),

  sendMessage: (world, params) => {
    const text = textFields(checkText(params["text"] as string, str(params, "parse_mode"), entitiesOf(params, "entities")))
    const markup = replyMarkupOf(params)
    return send(world, params, (base) => ({ ...base, ...text, ...markup }))
  },
  sendPhoto: sendMedia("photo"),
  sendVideo: sendMedia("video"),
  sendDocument: sendMedia("document"),
  sendAnimation: sendMedia("animation"),
  sendVoice: sendMedia("voice"),
  sendAudio: sendMedia("audio"),
  sendSticker: sendMedia("sticker"),
  sendVideoNote: sendMedia("video_note"),
  sendChatAction: (world, params) => {
    const chatId = world.chats.resolveChatId(params["chat_id"])
    world.chats.assertCanSend(chatId)
    if (!CHAT_ACTIONS.has(params["action"] as string)) throw badRequest("wrong parameter action in request")
    return true
  },

  editMessageText: (world, params) => {
    const stored = editable(world, params, "message to edit not found")
    if (stored.message.text === undefined) throw badRequest("there is no text in the message to edit")
    if (params["text"] === undefined) throw badRequest("message text is empty")
    const text = textFields(checkText(params["text"] as string, str(params, "parse_mode"), entitiesOf(params, "entities")))
    const markup = checkReplyMarkup(params["reply_markup"])
    if (sameContent(text, stored.message) && sameMarkup(markup, stored.message.reply_markup)) throw badRequest(NOT_MODIFIED)
    const removed: Array<keyof Message> = []
    if (text.entities === undefined) removed.push("entities")
    if (markup === undefined) removed.push("reply_markup")
    return applyEdit(stored, { ...text, ...(markup === undefined ? {} : { reply_markup: markup }) }, removed)
  },
  editMessageCaption: (world, params) => {
    const stored = editable(world, params, "message to edit not found")
    if (stored.message.text !== undefined) throw badRequest("there is no caption in the message to edit")
    const caption = captionOf(params)
    const markup = checkReplyMarkup(params["reply_markup"])
    const current = { text: stored.message.caption, entities: stored.message.caption_entities }
    if (sameContent({ text: caption.caption, entities: caption.caption_entities }, current) && sameMarkup(markup, stored.message.reply_markup)) {
      throw badRequest(NOT_MODIFIED)
    }
    const removed: Array<keyof Message> = []
    if (caption.caption === undefined) removed.push("caption")
    if (caption.caption_entities === undefined) removed.push("caption_entities")
    if (markup === undefined) removed.push("reply_markup")
    return applyEdit(stored, { ...caption, ...(markup === undefined ? {} : { reply_markup: markup }) }, removed)
  },
  editMessageReplyMarkup: (world, params) => {
    const stored = editable(world, params, "message to edit not found")
    const markup = checkReplyMarkup(params["reply_markup"])
    if (sameMarkup(markup, stored.message.reply_markup)) throw badRequest(NOT_MODIFIED)
    return applyEdit(stored, markup === undefined ? {} : { reply_markup: markup }, markup === undefined ? ["reply_markup"] : [])
  },
  editMessageMedia: async (world, params) => {
    const stored = editable(world, params, "message to edit not found")
    if (stored.message.text !== undefined) throw badRequest("there is no media in the message to edit")
    const media = params["media"] as { type?: string; media?: unknown; caption?: string; parse_mode?: string }
    const kind = media.type as FileKind
    if (!["photo", "video", "document", "animation", "audio"].includes(kind)) throw badRequest("can't parse InputMedia JSON object")
    const { file } = await resolveMedia(world.files, kind, media.media, world.urlPolicy)
    const markup = checkReplyMarkup(params["reply_markup"])
    const caption = captionFields(checkCaption(media.caption, media.parse_mode))
    const content = kind === "photo"
      ? { photo: photoSizes(world.files, file.bytes, 1280, 960) }
      : kind === "video" || kind === "animation"
      ? { [kind]: videoObject(file) }
      : { [kind]: documentObject(file) }
    const removed: Array<keyof Message> = ["photo", "video", "animation", "document", "audio"]
      .filter((k) => k !== kind) as Array<keyof Message>
    if (caption.caption === undefined) removed.push("caption")
    if (caption.caption_entities === undefined) removed.push("caption_entities")
    if (markup === undefined) removed.push("reply_markup")
    return applyEdit(stored, { ...content, ...caption, ...(markup === undefined ? {} : { reply_markup: markup }) }, removed)
  },
  deleteMessage: (world, params) => {
    const chatId = world.chats.resolveChatId(params["chat_id"])
    const stored = world.chats.message(chatId, params["message_id"] as number)
    if (stored === undefined) throw badRequest("message to delete not found")
    stored.deleted = true
    return true
  },
  deleteMessages: (world, params) => {
    const chatId = world.chats.resolveChatId(params["chat_id"])
    const ids = params["message_ids"] as Array<number>
    if (ids.length < 1 || ids.length > 100) throw badRequest("message_ids must contain 1-100 identifiers")
    for (const id of ids) {
      const stored = world.chats.message(chatId, id)
      if (stored !== undefined) stored.deleted = true
    }
    return true
  },

  answerCallbackQuery: (world, params) => world.callbacks.answer(params),

  getFile: (world, params) => {
    const file = world.files.get(params["file_id"] as string)
    if (file === undefined) throw badRequest("invalid file_id")
    if (file.size > limits.getFile) throw badRequest("file is too big")
    return { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.size, file_path: file.file_path }
  },

  getChat: (world, params) => {
    const chat = world.chats.chat(world.chats.resolveChatId(params["chat_id"]))
    return { ...chat, accent_color_id: 0, max_reaction_count: 11, accepted_gift_types: { unlimited_gifts: false, limited_gifts: false, unique_gifts: false, premium_subscription: false, gifts_from_channels: false } }
  },

  setMyCommands: (world, params) => world.commands.set(params),
  getMyCommands: (world, params) => world.commands.get(params),
  deleteMyCommands: (world, params) => world.commands.delete(params),

  sendInvoice: (world, params) => {
    const chatId = world.chats.resolveChatId(params["chat_id"])
    world.chats.assertCanSend(chatId)
    const terms = checkInvoice(params)
    const markup = replyMarkupOf(params)
    const firstButton = markup.reply_markup?.inline_keyboard[0]?.[0]
    if (firstButton !== undefined && !("pay" in firstButton && firstButton.pay === true)) {
      throw badRequest("REPLY_MARKUP_BUY_EMPTY")
    }
    const message = world.chats.append(chatId, "bot", (base) => ({
      ...base,
      invoice: {
        title: terms.title,
        description: terms.description,
        start_parameter: terms.start_parameter ?? "",
        currency: terms.currency,
        total_amount: terms.total_amount
      },
      ...markup
    })).message
    world.payments.issue(terms, { chatId, messageId: message.message_id })
    return message
  },
  createInvoiceLink: (world, params) => world.payments.issue(checkInvoice(params), { link: `https://t.me/$${randomToken(12)}` }).link,
  answerPreCheckoutQuery: (world, params) => world.payments.answerPreCheckout(params),
  refundStarPayment: (world, params) => world.payments.refund(params),
  getStarTransactions: (world, params) => world.payments.transactions(params),
  getMyStarBalance: (world) => ({ amount: world.payments.balance() })
}

const handlersByLowerName = new Map(Object.entries(handlers).map(([name, h]) => [name.toLowerCase(), h]))

/** Runs the method; unimplemented methods that return True are accepted as no-ops. */
export const runMethod = (world: World, method: MethodSpec, params: Params, call: CallContext): Promise<unknown> => {
  const handler = handlersByLowerName.get(method.name.toLowerCase())
  if (handler !== undefined) return Promise.resolve().then(() => handler(world, params, call))
  if (method.returns.length === 1 && method.returns[0] === "Boolean") return Promise.resolve(true)
  return Promise.reject(badRequest(`method ${method.name} is not supported by the simulator`))
}
