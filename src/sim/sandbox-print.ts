/**
 * What the sandbox CLI prints: each of the bot's Bot API calls that the user would see,
 * and the chat as the user sees it. Every kind of answer has its line: messages, edits,
 * media, invoices, button toasts and alerts, checkout answers, deletions, chat actions,
 * refunds, and calls that failed.
 */
import type { BotCall } from "./telegram/call-log.js"
import { isUserQueryId } from "./telegram/ids.js"

type Fields = Record<string, any>

const buttons = (markup: Fields | undefined): string => {
  const rows: Array<Array<Fields>> = markup?.inline_keyboard ?? []
  const labels = rows.flat().map((button) => `[${button.text}${button.pay === true ? " (pay)" : ""}]`)
  return labels.length === 0 ? "" : `  ${labels.join(" ")}`
}

const stars = (amount: unknown, currency: unknown) => currency === "XTR" ? `${amount} ⭐` : `${amount} ${currency}`

const withCaption = (caption: unknown) => (typeof caption === "string" && caption !== "" ? `: ${caption}` : "")

const mediaKinds: Record<string, string> = {
  sendPhoto: "a photo",
  sendVideo: "a video",
  sendDocument: "a file",
  sendAnimation: "an animation",
  sendAudio: "an audio file",
  sendVoice: "a voice note",
  sendSticker: "a sticker"
}

const chatActions: Record<string, string> = {
  typing: "typing",
  upload_photo: "sending a photo",
  upload_video: "sending a video",
  record_video: "recording a video",
  upload_document: "sending a file",
  upload_voice: "sending a voice note",
  choose_sticker: "choosing a sticker"
}

/** Whether the call answers this user: their chat, their payment, or a query they opened. */
export const concernsUser = (call: BotCall, userId: number): boolean => {
  const p = call.params as Fields
  if (Number(p.chat_id) === userId || Number(p.user_id) === userId) return true
  const query = p.callback_query_id ?? p.pre_checkout_query_id
  return query !== undefined && isUserQueryId(userId, String(query))
}

/** The line for one of the bot's calls, or undefined when the user would not see it. */
export const describeCall = (call: BotCall, userId: number): string | undefined => {
  if (!concernsUser(call, userId)) return undefined
  const p = call.params as Fields
  if (!call.outcome.ok) return `bot's ${call.method} failed: ${call.outcome.error_code} ${call.outcome.description}`
  const result = call.outcome.result as Fields | undefined
  const id = typeof result?.message_id === "number" ? ` #${result.message_id}` : ""
  switch (call.method) {
    case "sendMessage":
      return `bot${id}: ${p.text}${buttons(p.reply_markup)}`
    case "editMessageText":
      return `bot edits #${p.message_id}: ${p.text}${buttons(p.reply_markup)}`
    case "editMessageCaption":
      return `bot edits the caption of #${p.message_id}${withCaption(p.caption)}${buttons(p.reply_markup)}`
    case "editMessageReplyMarkup":
      return `bot changes the buttons of #${p.message_id}:${buttons(p.reply_markup) || " none left"}`
    case "sendInvoice":
      return `bot${id} sends an invoice: "${p.title}", ${stars(p.prices?.[0]?.amount, p.currency)} (${p.description})` +
        `${buttons(p.reply_markup)}  → npm run sandbox -- pay`
    case "answerCallbackQuery":
      if (typeof p.text !== "string" || p.text === "") return undefined
      return p.show_alert === true ? `bot (alert you close): ${p.text}` : `bot (toast): ${p.text}`
    case "answerPreCheckoutQuery":
      return p.ok === true ? "bot accepts the checkout" : `bot refuses the checkout: ${p.error_message ?? ""}`
    case "deleteMessage":
      return `bot deletes #${p.message_id}`
    case "sendChatAction":
      return `bot is ${chatActions[String(p.action)] ?? String(p.action)}…`
    case "refundStarPayment":
      return `bot refunds the payment ${p.telegram_payment_charge_id}`
    default: {
      const kind = mediaKinds[call.method]
      if (kind !== undefined) return `bot${id} sends ${kind}${withCaption(p.caption)}${buttons(p.reply_markup)}`
      return `bot calls ${call.method}`
    }
  }
}

export interface ChatMessage {
  readonly sender: "bot" | "user"
  readonly deleted: boolean
  readonly editCount: number
  readonly message: Fields
}

const contentOf = (m: Fields): string => {
  if (typeof m.text === "string") return m.text
  if (m.photo !== undefined) return `[photo]${withCaption(m.caption)}`
  if (m.video !== undefined) return `[video]${withCaption(m.caption)}`
  if (m.document !== undefined) return `[file ${m.document.file_name ?? ""}]${withCaption(m.caption)}`
  if (m.sticker !== undefined) return `[sticker ${m.sticker.emoji ?? ""}]`
  if (m.voice !== undefined) return `[voice note, ${m.voice.duration} s]`
  if (m.invoice !== undefined) return `[invoice "${m.invoice.title}", ${stars(m.invoice.total_amount, m.invoice.currency)}]`
  if (m.successful_payment !== undefined) {
    return `[paid ${stars(m.successful_payment.total_amount, m.successful_payment.currency)}]`
  }
  return "[message]"
}

/** One message of the chat, with its id (for `edit` and `pay`). */
export const describeMessage = (stored: ChatMessage): string => {
  const notes = [stored.deleted ? "deleted" : undefined, stored.editCount > 0 ? "edited" : undefined].filter((n) => n !== undefined)
  const who = stored.sender === "bot" ? "bot" : "you"
  return `${who} #${stored.message.message_id}${notes.length === 0 ? "" : ` (${notes.join(", ")})`}: ` +
    `${contentOf(stored.message)}${buttons(stored.message.reply_markup)}`
}
