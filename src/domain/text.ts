/**
 * Text that every store accepts. Postgres refuses U+0000 in `text` ("invalid byte
 * sequence", 22021), and a lone UTF-16 surrogate has no UTF-8 form at all; Telegram
 * delivers both if a client sends them. Whatever a user or an admin typed passes through
 * here before the bot reads it, so the same input behaves the same on SQLite and Postgres.
 */

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

export const storableText = (text: string): string => text.replace(/\u0000/g, "").replace(loneSurrogate, "\uFFFD")

/** A JSON value (a Telegram update) with every string in it made storable; other values as they were. */
export const storableJson = (value: unknown): unknown => {
  if (typeof value === "string") return storableText(value)
  if (Array.isArray(value)) return value.map(storableJson)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storableText(key), storableJson(inner)]))
  }
  return value
}
