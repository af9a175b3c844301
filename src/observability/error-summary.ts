/**
 * How a caught error goes into a log line: its class and message, and those of the errors
 * it wraps, never the object. grammY's errors carry what has no place in a log (an
 * HttpError the fetch error whose message holds the request URL with the bot token, a
 * GrammyError the request payload, a BotError the update's context with the API client);
 * the logger's redactor hides the secrets in them, this keeps out the rest.
 */
import { Cause, Effect, type LogLevel } from "effect"

/** How many wrapped errors are followed (Effect's UnknownException → BotError → …). */
const depth = 4

const classOf = (error: object): string => {
  const tag = (error as { _tag?: unknown })._tag
  if (typeof tag === "string") return tag
  const name = (error as { name?: unknown }).name
  if (typeof name === "string" && name !== "") return name
  return error.constructor?.name ?? "Object"
}

/**
 * grammY keeps the error it wraps in `error` (so does Effect's UnknownException), the bot's
 * bridge an Effect's cause in `effectCause` (src/telegram/bot.ts); others use `cause`.
 */
const wrappedBy = (error: object): unknown => {
  const effectCause = (error as { effectCause?: unknown }).effectCause
  if (Cause.isCause(effectCause)) return Cause.squash(effectCause)
  const inner = (error as { error?: unknown }).error
  return typeof inner === "object" && inner !== null ? inner : (error as { cause?: unknown }).cause
}

/** Wrappers whose message only repeats the wrapped error's. */
const isMereWrapper = (error: object, inner: unknown) =>
  inner !== undefined && (classOf(error) === "UnknownException" || "effectCause" in error)

/** "HttpError: Network request for 'getMe' failed!; caused by FetchError: request to … failed, reason: …" */
export const errorSummary = (error: unknown): string => {
  const parts: Array<string> = []
  const seen = new Set<unknown>()
  let current = error
  while (parts.length < depth && current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current)
    if (typeof current !== "object") {
      parts.push(String(current))
      break
    }
    const inner = wrappedBy(current)
    // The first line: some messages go on with a rendered cause and its stack trace.
    const message = String((current as { message?: unknown }).message ?? "").split("\n")[0]!.trim()
    if (!isMereWrapper(current, inner)) parts.push(message === "" ? classOf(current) : `${classOf(current)}: ${message}`)
    current = inner
  }
  return parts.join("; caused by ")
}

/** A log line at `level` whose `error` annotation is the error's summary. */
export const logFailure = (level: LogLevel.LogLevel, message: string, error: unknown) =>
  Effect.logWithLevel(level, message).pipe(Effect.annotateLogs("error", errorSummary(error)))
