/**
 * The bot's outgoing side: everything the jobs and handlers send to Telegram goes through
 * this service, so limits, retry_after and error classification live in one place.
 */
import { Context, type Effect } from "effect"
import type { TelegramError, TelegramPermanentError } from "../errors/telegram-errors.js"

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

export interface TelegramGatewayService {
  readonly sendMessage: (
    chatId: number,
    text: string,
    options?: { readonly keyboard?: InlineKeyboard | undefined }
  ) => Effect.Effect<number, TelegramError>
  /** "message is not modified" counts as success. */
  readonly editMessageText: (
    chatId: number,
    messageId: number,
    text: string,
    options?: { readonly keyboard?: InlineKeyboard | undefined }
  ) => Effect.Effect<void, TelegramError>
  readonly deleteMessage: (chatId: number, messageId: number) => Effect.Effect<void, TelegramError>
  readonly sendChatAction: (chatId: number, action: "upload_video" | "typing") => Effect.Effect<void, TelegramError>
  /**
   * Sends the video at `url` (a public URL, e.g. KIE's result): by URL when Telegram can
   * fetch it (≤ 20 MB), otherwise downloaded here and uploaded (≤ 50 MB), otherwise as a
   * link with `tooBigText`.
   */
  readonly sendVideo: (
    chatId: number,
    video: {
      readonly url: string
      readonly caption: string
      readonly keyboard?: InlineKeyboard | undefined
      readonly tooBigText: (sizeBytes: number) => string
    }
  ) => Effect.Effect<VideoDelivery, TelegramError>
  /** getFile + download; the token-bearing file URL never leaves this service. */
  readonly downloadFile: (fileId: string) => Effect.Effect<DownloadedFile, TelegramError | TelegramPermanentError>
}

export class TelegramGateway extends Context.Tag("app/TelegramGateway")<TelegramGateway, TelegramGatewayService>() {}
