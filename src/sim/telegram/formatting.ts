/**
 * Message content as the real server handles it: HTML and MarkdownV2 parsed into text + entities
 * (with its parse errors), text and caption lengths after parsing, and inline keyboards
 * (callback_data 1-64 bytes).
 */
import type { InlineKeyboardMarkup, MessageEntity } from "grammy/types"
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

/** Text as Telegram stores it: the visible characters and their entities (offsets in UTF-16 units). */
export interface Formatted {
  readonly text: string
  readonly entities: ReadonlyArray<MessageEntity>
}

const sortEntities = (entities: Array<MessageEntity>): Array<MessageEntity> =>
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length)

const HTML_ENTITY_TYPES: Record<string, MessageEntity["type"]> = {
  b: "bold", strong: "bold", i: "italic", em: "italic", u: "underline", ins: "underline", s: "strikethrough",
  strike: "strikethrough", del: "strikethrough", span: "spoiler", "tg-spoiler": "spoiler", code: "code", pre: "pre",
  blockquote: "blockquote", a: "text_link", "tg-emoji": "custom_emoji"
}

const attribute = (tag: string, name: string): string | undefined => {
  const match = new RegExp(`${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, "i").exec(tag)
  return match === null ? undefined : decodeEntities(match[1] ?? match[2] ?? match[3] ?? "")
}

/** Telegram's HTML: supported tags only, properly nested, `<` escaped; entities from the tags. */
const parseHtml = (text: string): Formatted => {
  const open: Array<{ name: string; start: number; tag: string; language?: string }> = []
  const entities: Array<MessageEntity> = []
  let out = ""
  let last = 0
  const tag = /<\s*(\/?)\s*([a-zA-Z][a-zA-Z0-9-]*)[^>]*>/g
  for (const match of text.matchAll(tag)) {
    const index = match.index
    out += decodeEntities(text.slice(last, index))
    last = index + match[0].length
    const name = match[2]!.toLowerCase()
    const offset = Buffer.byteLength(text.slice(0, index), "utf8")
    if (!HTML_TAGS.has(name)) {
      throw badRequest(`can't parse entities: Unsupported start tag "${name}" at byte offset ${offset}`)
    }
    if (match[1] !== "/") {
      open.push({ name, start: out.length, tag: match[0] })
      continue
    }
    const top = open.pop()
    if (top?.name !== name) {
      throw badRequest(`can't parse entities: Unmatched end tag at byte offset ${offset}, expected "</${top?.name ?? ""}>", found "</${name}>"`)
    }
    const length = out.length - top.start
    const parent = open.at(-1)
    if (name === "code" && parent?.name === "pre" && parent.start === top.start) {
      const language = attribute(top.tag, "class")?.replace(/^language-/, "")
      if (language !== undefined) parent.language = language
      continue
    }
    const type = HTML_ENTITY_TYPES[name]
    if (type === undefined || length === 0) continue
    if (type === "text_link") {
      const url = attribute(top.tag, "href")
      if (url !== undefined) entities.push({ type, offset: top.start, length, url })
    } else if (type === "custom_emoji") {
      entities.push({ type, offset: top.start, length, custom_emoji_id: attribute(top.tag, "emoji-id") ?? "" })
    } else if (type === "pre") {
      entities.push({ type, offset: top.start, length, ...(top.language === undefined ? {} : { language: top.language }) })
    } else if (type === "blockquote" && /\bexpandable\b/i.test(top.tag)) {
      entities.push({ type: "expandable_blockquote", offset: top.start, length })
    } else {
      entities.push({ type, offset: top.start, length } as MessageEntity)
    }
  }
  const rest = text.slice(last)
  if (open.length > 0) {
    throw badRequest(`can't parse entities: Can't find end tag corresponding to start tag "${open.at(-1)!.name}"`)
  }
  if (rest.includes("<")) throw badRequest("can't parse entities: Unexpected end of name token")
  out += decodeEntities(rest)
  return { text: out, entities: sortEntities(entities) }
}

/** The visible text and entities for a parse mode, checked like Telegram's parsers do. */
export const format = (text: string, parseMode: string | undefined, explicit?: ReadonlyArray<MessageEntity>): Formatted => {
  const mode = parseMode?.toLowerCase()
  if (mode === "html") return parseHtml(text)
  if (mode === "markdownv2") return parseMarkdownV2(text)
  return { text, entities: explicit ?? [] }
}

const MARKDOWN_ENTITIES: Record<string, { name: string; type: MessageEntity["type"] }> = {
  "*": { name: "Bold", type: "bold" },
  "_": { name: "Italic", type: "italic" },
  "__": { name: "Underline", type: "underline" },
  "~": { name: "Strikethrough", type: "strikethrough" },
  "||": { name: "Spoiler", type: "spoiler" }
}

/**
 * MarkdownV2 as Telegram parses it: every reserved character outside an entity marker must be
 * escaped with a backslash, and every entity must be closed.
 */
const parseMarkdownV2 = (text: string): Formatted => {
  const reserved = (c: string) =>
    badRequest(`can't parse entities: Character '${c}' is reserved and must be escaped with the preceding '\\'`)
  const open: Array<{ marker: string; at: number; start: number }> = []
  const entities: Array<MessageEntity> = []
  let out = ""
  let i = 0
  let link: number | undefined
  let quote: number | undefined
  const endQuote = () => {
    if (quote !== undefined && out.length > quote) entities.push({ type: "blockquote", offset: quote, length: out.length - quote })
    quote = undefined
  }
  while (i < text.length) {
    const c = text[i]!
    if (c === "\\") {
      const next = text[i + 1]
      if (next === undefined || next.charCodeAt(0) > 126) throw reserved("\\")
      out += next
      i += 2
      continue
    }
    if (c === "\n" && quote !== undefined && text[i + 1] !== ">") {
      endQuote()
    }
    if (c === "`") {
      const fence = text.startsWith("```", i) ? "```" : "`"
      const end = text.indexOf(fence, i + fence.length)
      if (end < 0) throw badRequest(`can't parse entities: Can't find end of ${fence === "`" ? "Code" : "Pre"} entity at byte offset ${Buffer.byteLength(text.slice(0, i))}`)
      let body = text.slice(i + fence.length, end)
      let language: string | undefined
      if (fence === "```" && /^[^\n`]*\n/.test(body)) {
        language = body.slice(0, body.indexOf("\n")).trim() || undefined
        body = body.slice(body.indexOf("\n") + 1)
      }
      const start = out.length
      out += body.replace(/\\([`\\])/g, "$1")
      if (out.length > start) {
        entities.push(fence === "`"
          ? { type: "code", offset: start, length: out.length - start }
          : { type: "pre", offset: start, length: out.length - start, ...(language === undefined ? {} : { language }) })
      }
      i = end + fence.length
      continue
    }
    const marker = c === "_" && text[i + 1] === "_" ? "__" : c === "|" && text[i + 1] === "|" ? "||" : c
    const kind = MARKDOWN_ENTITIES[marker]
    if (kind !== undefined) {
      const top = open.at(-1)
      if (top?.marker === marker) {
        open.pop()
        if (out.length > top.start) entities.push({ type: kind.type, offset: top.start, length: out.length - top.start } as MessageEntity)
      } else {
        open.push({ marker, at: i, start: out.length })
      }
      i += marker.length
      continue
    }
    if (c === "[" && link === undefined) {
      link = out.length
      i++
      continue
    }
    if (c === "]" && link !== undefined) {
      if (text[i + 1] !== "(") throw reserved("]")
      const close = text.indexOf(")", i + 2)
      if (close < 0) throw badRequest("can't parse entities: Can't find end of a URL")
      const url = text.slice(i + 2, close).replace(/\\([)\\])/g, "$1")
      if (out.length > link) entities.push({ type: "text_link", offset: link, length: out.length - link, url })
      link = undefined
      i = close + 1
      continue
    }
    if (c === ">" && (i === 0 || text[i - 1] === "\n")) {
      quote ??= out.length
      i++
      continue
    }
    if ("_*[]()~`>#+-=|{}.!".includes(c)) throw reserved(c)
    out += c
    i++
  }
  endQuote()
  const unclosed = open.at(-1)
  if (unclosed !== undefined) {
    throw badRequest(`can't parse entities: Can't find end of ${MARKDOWN_ENTITIES[unclosed.marker]!.name} entity at byte offset ${Buffer.byteLength(text.slice(0, unclosed.at))}`)
  }
  if (link !== undefined) throw badRequest("can't parse entities: Can't find end of a TextUrl entity")
  return { text: out, entities: sortEntities(entities) }
}

export const checkText = (text: string, parseMode: string | undefined, explicit?: ReadonlyArray<MessageEntity>): Formatted => {
  const formatted = format(text, parseMode, explicit)
  if (formatted.text.trim().length === 0) throw badRequest("message text is empty")
  if ([...formatted.text].length > MAX_TEXT) throw badRequest("message is too long")
  return formatted
}

export const checkCaption = (
  caption: string | undefined,
  parseMode: string | undefined,
  explicit?: ReadonlyArray<MessageEntity>
): Formatted | undefined => {
  if (caption === undefined) return undefined
  const formatted = format(caption, parseMode, explicit)
  if ([...formatted.text].length > MAX_CAPTION) throw badRequest("message caption is too long")
  return formatted.text === "" ? undefined : formatted
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
