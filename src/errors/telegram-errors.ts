/**
 * Failures of the bot's outgoing Telegram calls, classified like KIE's: a transient one is
 * worth retrying (after `retryAfterSeconds` when Telegram said so), a permanent one is not
 * (the user blocked the bot, the chat is gone, the request can never succeed).
 */
import { Schema } from "effect"

export const TelegramMethod = Schema.String

export class TelegramTransientError extends Schema.TaggedError<TelegramTransientError>()("TelegramTransientError", {
  method: TelegramMethod,
  reason: Schema.Literal("RateLimited", "ServerError", "Network", "Timeout"),
  /** Telegram's `parameters.retry_after`, when it gave one. */
  retryAfterSeconds: Schema.optional(Schema.Number),
  description: Schema.optional(Schema.String)
}) {
  get message() {
    return `Telegram ${this.method}: ${this.reason}${this.description ? ` (${this.description})` : ""}`
  }
}

export class TelegramPermanentError extends Schema.TaggedError<TelegramPermanentError>()("TelegramPermanentError", {
  method: TelegramMethod,
  reason: Schema.Literal("BlockedByUser", "ChatNotFound", "FileTooBig", "BadRequest", "Unauthorized"),
  errorCode: Schema.optional(Schema.Int),
  description: Schema.optional(Schema.String)
}) {
  get message() {
    return `Telegram ${this.method}: ${this.reason}${this.description ? ` (${this.description})` : ""}`
  }
}

export const TelegramError = Schema.Union(TelegramTransientError, TelegramPermanentError)
export type TelegramError = typeof TelegramError.Type
