/**
 * Message content checks the real server makes: text and caption lengths after entity parsing,
 * HTML well-formedness for parse_mode "HTML", and inline keyboards (callback_data 1-64 bytes).
 */
import type { InlineKeyboardMarkup } from "grammy/types"
import { badRequest } from "./api-error.js"

export const MAX_TEXT = 4096
export const MAX_CAPTION = 1024

const HTML_TAGS = new Set([
  "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
  "blockquote", "tg-emoji", "tg-time"
])

const decodeEntities = (s: string): string =>
  s.replace(/&(lt|gt|amp|quot|#(\d+)|#x([0-9a-f]+));/gi, (_m, name: string, dec?: string, hex?: string) => {
    if (dec !== undefined) return String.fromCodePoint(Number(dec))
    if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16))
    return ({ lt: "<", gt: ">", amp: "&", quot: "\"" } as Record<string, string>)[name.toLowerCase()] ?? ""
  })

/** The visible text for a parse mode; HTML and MarkdownV2 are checked like Telegram's parser does. */
export const plainText = (text: string, parseMode: string | undefined): string => {
  const mode = parseMode?.toLowerCase()
  if (mode === "markdownv2") return markdownV2Text(text)
  if (mode !== "html") return text
  const stack: Array<string> = []
  let out = ""
  let last = 0
  const tag = /<\s*(\/?)\s*([a-zA-Z][a-zA-Z0-9-]*)[^>]*>/g
  for (const match of text.matchAll(tag)) {
    const index = match.index
    out += text.slice(last, index)
    last = index + match[0].length
    const closing = match[1] === "/"
    const name = match[2]!.toLowerCase()
    const offset = Buffer.byteLength(text.slice(0, index), "utf8")
    if (!HTML_TAGS.has(name)) {
      throw badRequest(`can't parse entities: Unsupported start tag "${name}" at byte offset ${offset}`)
    }
    if (closing) {
      if (stack.pop() !== name) {
        throw badRequest(`can't parse entities: Unmatched end tag at byte offset ${offset}, expected "</${stack.at(-1) ?? ""}>", found "</${name}>"`)
      }
    } else {
      stack.push(name)
    }
  }
  out += text.slice(last)
  if (stack.length > 0) {
    throw badRequest(`can't parse entities: Can't find end tag corresponding to start tag "${stack.at(-1)}"`)
  }
  if (out.includes("<")) throw badRequest("can't parse entities: Unexpected end of name token")
  return decodeEntities(out)
}

const MARKDOWN_ENTITIES: Record<string, string> = { "*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler" }

/**
 * MarkdownV2 as Telegram parses it: every reserved character outside an entity marker must be
 * escaped with a backslash, and every entity must be closed.
 */
const markdownV2Text = (text: string): string => {
  const reserved = (c: string) =>
    badRequest(`can't parse entities: Character '${c}' is reserved and must be escaped with the preceding '\\'`)
  const open: Array<{ marker: string; at: number }> = []
  let out = ""
  let i = 0
  let inLink = false
  while (i < text.length) {
    const c = text[i]!
    if (c === "\\") {
      const next = text[i + 1]
      if (next === undefined || next.charCodeAt(0) > 126) throw reserved("\\")
      out += next
      i += 2
      continue
    }
    if (c === "`") {
      const fence = text.startsWith("```", i) ? "```" : "`"
      const end = text.indexOf(fence, i + fence.length)
      if (end < 0) throw badRequest(`can't parse entities: Can't find end of ${fence === "`" ? "Code" : "Pre"} entity at byte offset ${Buffer.byteLength(text.slice(0, i))}`)
      let body = text.slice(i + fence.length, end)
      if (fence === "```" && /^[^\n`]*\n/.test(body)) body = body.slice(body.indexOf("\n") + 1)
      out += body.replace(/\\([`\\])/g, "$1")
      i = end + fence.length
      continue
    }
    const marker = c === "_" && text[i + 1] === "_" ? "__" : c === "|" && text[i + 1] === "|" ? "||" : c
    if (MARKDOWN_ENTITIES[marker] !== undefined) {
      if (open.at(-1)?.marker === marker) open.pop()
      else open.push({ marker, at: i })
      i += marker.length
      continue
    }
    if (c === "[" && !inLink) {
      inLink = true
      i++
      continue
    }
    if (c === "]" && inLink) {
      inLink = false
      if (text[i + 1] !== "(") throw reserved("]")
      const close = text.indexOf(")", i + 2)
      if (close < 0) throw badRequest("can't parse entities: Can't find end of a URL")
      i = close + 1
      continue
    }
    if (c === ">" && (i === 0 || text[i - 1] === "\n")) {
      i++
      continue
    }
    if ("_*[]()~`>#+-=|{}.!".includes(c)) throw reserved(c)
    out += c
    i++
  }
  const unclosed = open.at(-1)
  if (unclosed !== undefined) {
    throw badRequest(`can't parse entities: Can't find end of ${MARKDOWN_ENTITIES[unclosed.marker]} entity at byte offset ${Buffer.byteLength(text.slice(0, unclosed.at))}`)
  }
  if (inLink) throw badRequest("can't parse entities: Can't find end of a TextUrl entity")
  return out
}

export const checkText = (text: string, parseMode: string | undefined): string => {
  const plain = plainText(text, parseMode)
  if (plain.trim().length === 0) throw badRequest("message text is empty")
  if ([...plain].length > MAX_TEXT) throw badRequest("message is too long")
  return plain
}

export const checkCaption = (caption: string | undefined, parseMode: string | undefined): string | undefined => {
  if (caption === undefined) return undefined
  const plain = plainText(caption, parseMode)
  if ([...plain].length > MAX_CAPTION) throw badRequest("message caption is too long")
  return plain === "" ? undefined : plain
}

/** Validates reply_markup; returns the inline keyboard when it is one (the only kind kept on messages). */
export const checkReplyMarkup = (markup: unknown): InlineKeyboardMarkup | undefined => {
  if (markup === undefined) return undefined
  if (typeof markup !== "object" || markup === null) throw badRequest("can't parse reply keyboard markup JSON object")
  const inline = (markup as { inline_keyboard?: unknown }).inline_keyboard
  if (inline === undefined) return undefined
  if (!Array.isArray(inline) || !inline.every(Array.isArray)) throw badRequest("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
  for (const row of inline as Array<Array<unknown>>) {
    for (const button of row) {
      if (typeof button !== "object" || button === null) throw badRequest("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
      const b = button as Record<string, unknown>
      if (typeof b["text"] !== "string" || b["text"] === "") throw badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
      const data = b["callback_data"]
      if (data !== undefined) {
        const bytes = typeof data === "string" ? Buffer.byteLength(data, "utf8") : 0
        if (bytes < 1 || bytes > 64) throw badRequest("BUTTON_DATA_INVALID")
      }
      const actions = ["callback_data", "url", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay"]
      if (!actions.some((k) => b[k] !== undefined)) {
        throw badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
      }
    }
  }
  return markup as InlineKeyboardMarkup
}
