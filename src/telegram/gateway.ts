/**
 * The bot's outgoing side: everything the jobs and handlers send to Telegram goes through
 * this service, so limits, retry_after and error classification live in one place.
 */
import { Context, type Effect, type Option } from "effect"
import type { BroadcastContent } from "../domain/broadcast.js"
import type { TelegramError, TelegramPermanentError } from "../errors/telegram-errors.js"
import type { OutgoingPriority } from "./outgoing-limits.js"

export interface InlineButton {
  readonly text: string
  readonly callbackData?: string | undefined
  readonly url?: string | undefined
}

/** Rows of inline buttons. */
export type InlineKeyboard = ReadonlyArray<ReadonlyArray<InlineButton>>

export interface DownloadedFile {
  readonly bytes: Uint8Array
  readonly mimeType: string
  readonly fileName: string
}

export type VideoDelivery =
  /** Sent as a video message (by URL, or uploaded when Telegram cannot fetch it). */
  | { readonly _tag: "Sent"; readonly messageId: number; readonly fileId: string | undefined }
  /** Too large for the Bot API: a text message with the link was sent instead. */
  | { readonly _tag: "SentAsLink"; readonly messageId: number; readonly sizeBytes: number }

/** A Stars invoice: currency XTR, no provider token, exactly one price. */
export interface StarsInvoice {
  readonly title: string
  readonly description: string
  /** 1-128 bytes, never shown to the user; comes back in pre-checkout and successful_payment. */
  readonly payload: string
  readonly label: string
  readonly stars: number
}

/** One entry of getStarTransactions, reduced to what reconciliation reads. */
export interface StarTransactionEntry {
  /** For an incoming payment, its telegram_payment_charge_id; a refund reuses the payment's id. */
  readonly id: string
  readonly amount: number
  readonly date: number
  readonly direction: "incoming" | "outgoing"
  /** The user who paid (incoming) or was refunded (outgoing), when a user was the partner. */
  readonly userId: number | undefined
  readonly invoicePayload: string | undefined
}

/**
 * Where a message stands in line for Telegram's shared budget (see outgoing-limits.ts):
 * "normal" by default; an answer is placed by when its request came (`askedAtMs`), a
 * normal message by when it came (`askedAtMs`, now by default).
 */
export interface OutgoingPlace {
  readonly priority?: OutgoingPriority | undefined
  readonly askedAtMs?: number | undefined
}

export interface TelegramGatewayService {
  /**
   * `onSent` runs as soon as Telegram has answered, before an interruption can land: what it
   * records survives a runner stopped mid-request, so the message is not sent again.
   */
  readonly sendMessage: (
    chatId: number,
    text: string,
    options?: {
      readonly keyboard?: InlineKeyboard | undefined
      readonly onSent?: ((messageId: number) => Effect.Effect<void>) | undefined
    } & OutgoingPlace
  ) => Effect.Effect<number, TelegramError>
  /**
   * A job's progress message, the user's answer to the request that came at `askedAtMs`
   * (see outgoing-limits.ts). `stillWanted` is asked when its turn has come, right before
   * it is posted. None when it was no longer wanted, and so never sent. `onPosted` runs as
   * soon as Telegram has answered, before an interruption can land.
   */
  readonly sendProgressMessage: (
    chatId: number,
    text: string,
    options: {
      readonly keyboard?: InlineKeyboard | undefined
      readonly stillWanted: Effect.Effect<boolean>
      readonly askedAtMs: number
      readonly onPosted?: ((messageId: number) => Effect.Effect<void>) | undefined
    }
  ) => Effect.Effect<Option.Option<number>, TelegramError>
  /**
   * One recipient's copy of a broadcast; it waits behind every other message and takes only
   * the budget they leave (see outgoing-limits.ts); the admin's preview goes as a normal
   * message. Returns the message id.
   */
  readonly sendBroadcast: (
    chatId: number,
    content: BroadcastContent,
    priority?: OutgoingPriority
  ) => Effect.Effect<number, TelegramError>
  /**
   * "message is not modified" counts as success; progress edits wait behind other messages.
   * `stillWanted`, when given, is asked when the edit's turn has come: false drops it.
   */
  readonly editMessageText: (
    chatId: number,
    messageId: number,
    text: string,
    options?: {
      readonly keyboard?: InlineKeyboard | undefined
      readonly priority?: OutgoingPriority | undefined
      readonly stillWanted?: Effect.Effect<boolean> | undefined
    }
  ) => Effect.Effect<void, TelegramError>
  readonly deleteMessage: (chatId: number, messageId: number) => Effect.Effect<void, TelegramError>
  readonly sendChatAction: (chatId: number, action: "upload_video" | "typing") => Effect.Effect<void, TelegramError>
  /**
   * Sends the video at `url` (a public URL, e.g. KIE's result): by URL when Telegram can
   * fetch it (≤ 20 MB), otherwise downloaded here and uploaded (≤ 50 MB), otherwise as a
   * link with `tooBigText`. `onDelivered` runs as soon as Telegram has answered, before an
   * interruption can land: what it records survives a runner stopped mid-request.
   */
  readonly sendVideo: (
    chatId: number,
    video: {
      readonly url: string
      readonly caption: string
      readonly keyboard?: InlineKeyboard | undefined
      readonly tooBigText: (sizeBytes: number) => string
      readonly onDelivered?: ((delivery: VideoDelivery) => Effect.Effect<void>) | undefined
    } & OutgoingPlace
  ) => Effect.Effect<VideoDelivery, TelegramError>
  /** getFile + download; the token-bearing file URL never leaves this service. */
  readonly downloadFile: (fileId: string) => Effect.Effect<DownloadedFile, TelegramError | TelegramPermanentError>
  /** sendInvoice in Telegram Stars; returns the invoice message's id. */
  readonly sendInvoice: (chatId: number, invoice: StarsInvoice) => Effect.Effect<number, TelegramError>
  /** `errorMessage` undefined answers yes; a string answers no and is shown to the user. */
  readonly answerPreCheckoutQuery: (queryId: string, errorMessage?: string | undefined) => Effect.Effect<void, TelegramError>
  /** Returns the Stars of a payment; "already refunded" counts as success. */
  readonly refundStarPayment: (userId: number, chargeId: string) => Effect.Effect<void, TelegramError>
  /** One page of the bot's Star transactions, oldest first. */
  readonly getStarTransactions: (
    offset: number,
    limit: number
  ) => Effect.Effect<ReadonlyArray<StarTransactionEntry>, TelegramError>
}

export class TelegramGateway extends Context.Tag("app/TelegramGateway")<TelegramGateway, TelegramGatewayService>() {}
