/**
 * The one place that knows what Telegram's failures mean. Pure: whatever a grammY call or
 * one of our own downloads threw becomes exactly one TelegramError.
 *
 * Errors are rebuilt from the error code and Telegram's description only. grammY's own
 * errors carry the method payload, and fetch failures can carry the request URL, which for
 * file downloads contains the bot token; none of that is copied (no `cause` is kept).
 */
import { GrammyError } from "grammy"
import {
  type TelegramError,
  TelegramPermanentError,
  TelegramTransientError
} from "../errors/telegram-errors.js"

/** An `ok: false` answer of the Bot API. */
export interface TelegramAnswer {
  readonly errorCode: number
  readonly description: string
  readonly retryAfter?: number | undefined
}

/** What Telegram (or a file host) answered; the classifier's whole input. */
export const classifyAnswer = (method: string, answer: TelegramAnswer): TelegramError => {
  const { description, errorCode } = answer
  const permanent = (reason: TelegramPermanentError["reason"]) =>
    new TelegramPermanentError({ method, reason, errorCode, description })
  if (errorCode === 429) {
    return new TelegramTransientError({
      method,
      reason: "RateLimited",
      description,
      ...(answer.retryAfter === undefined ? {} : { retryAfterSeconds: answer.retryAfter })
    })
  }
  if (errorCode >= 500) return new TelegramTransientError({ method, reason: "ServerError", description })
  if (errorCode === 401) return permanent("Unauthorized")
  // Every 403 means this user cannot be messaged (blocked, deactivated, never started the
  // bot); the job treats them alike, so they share one reason.
  if (errorCode === 403) return permanent("BlockedByUser")
  if (errorCode === 413 || /file is too big|entity too large/i.test(description)) return permanent("FileTooBig")
  if (/chat not found/i.test(description)) return permanent("ChatNotFound")
  return permanent("BadRequest")
}

const timeoutText = /timed out|timeout/i

/** A short, token-free label for a transport failure: an errno-like code or the error's name. */
const transportDetail = (error: unknown): string => {
  const seen = new Set<unknown>()
  let current: unknown = error
  while (typeof current === "object" && current !== null && !seen.has(current)) {
    seen.add(current)
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code)) return code
    current = (current as { cause?: unknown; error?: unknown }).cause ?? (current as { error?: unknown }).error
  }
  return "network error"
}

const isTimeout = (error: unknown): boolean => {
  const seen = new Set<unknown>()
  let current: unknown = error
  while (typeof current === "object" && current !== null && !seen.has(current)) {
    seen.add(current)
    const name = (current as { name?: unknown }).name
    const message = (current as { message?: unknown }).message
    const code = (current as { code?: unknown }).code
    if (name === "TimeoutError" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return true
    // grammY's own timeout is a plain Error "Request to 'x' timed out after N seconds".
    if (typeof message === "string" && timeoutText.test(message)) return true
    current = (current as { error?: unknown }).error ?? (current as { cause?: unknown }).cause
  }
  return false
}

/** Anything a grammY call (or a fetch we made for a Telegram operation) threw. */
export const classifyFailure = (method: string, failure: unknown): TelegramError => {
  if (failure instanceof TelegramTransientError || failure instanceof TelegramPermanentError) return failure
  if (failure instanceof GrammyError) {
    return classifyAnswer(method, {
      errorCode: failure.error_code,
      description: failure.description,
      retryAfter: failure.parameters.retry_after
    })
  }
  if (isTimeout(failure)) return new TelegramTransientError({ method, reason: "Timeout", description: "timed out" })
  // HttpError (Telegram unreachable, a non-JSON answer from a proxy) and anything else
  // thrown on the way: worth another try, and never a reason to refund on the spot.
  return new TelegramTransientError({ method, reason: "Network", description: transportDetail(failure) })
}

/** Telegram's answer to an edit that changes nothing; the desired state already holds. */
export const isNotModified = (error: TelegramError): boolean =>
  error._tag === "TelegramPermanentError" && error.reason === "BadRequest" &&
  /message is not modified/i.test(error.description ?? "")

/** Telegram could not fetch a URL we gave it; uploading the bytes ourselves may still work. */
export const isUrlRefused = (error: TelegramError): boolean =>
  error._tag === "TelegramPermanentError" && error.reason === "BadRequest" &&
  /failed to get HTTP URL content|wrong file identifier\/HTTP URL specified|wrong type of the web page content/i
    .test(error.description ?? "")

/** The message is already gone; deleting it again is not a failure. */
export const isAlreadyDeleted = (error: TelegramError): boolean =>
  error._tag === "TelegramPermanentError" && error.reason === "BadRequest" &&
  /message to delete not found/i.test(error.description ?? "")
