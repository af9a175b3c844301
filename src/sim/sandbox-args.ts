/**
 * The sandbox CLI's command line (src/sim/sandbox-cli.ts): the actions it knows, read into
 * an `Action` with the user and language options, or a line saying what is wrong.
 */
import { Option } from "effect"

export const usage = `usage: npm run sandbox -- [--lang ru] [--user 1002] <action>
  /start, /buy, any text      send it (the same as: text /start)
  photo <file> ["caption"]    a photo; the caption is the prompt (none: a menu of motions to press)
  document <file> ["caption"] a file (an image sent as a file also starts a video)
  video <file> ["caption"]    a video
  sticker [emoji]             a sticker
  voice [seconds]             a voice note
  press "<button>"            press a button under the bot's latest message that has it (its text, or part of it)
  pay [invoice #id]           open the latest invoice (or #id) and pay it with Stars
  edit <#id> "<new text>"     edit one of your own text messages
  reply <#id> "<text>"        answer message #id with a Telegram reply (an admin: a support request, or /broadcast)
  menu                        the command menu your Telegram app shows
  block | unblock             block the bot, or unblock it
  balance                     the same as: text /balance
  invite                      your invitation link (the same as: text /invite)
  open <link | parameter>     open a deep link, t.me/<bot>?start=<parameter>, as Telegram does: /start <parameter>
  promo <CODE>                redeem a promo code (the same as: text /promo CODE)
  messages                    the whole chat, with message ids`

export type Action =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Media"; readonly kind: "photo" | "document" | "video"; readonly file: string; readonly caption: string | undefined }
  | { readonly _tag: "Sticker"; readonly emoji: string | undefined }
  | { readonly _tag: "Voice"; readonly seconds: number }
  | { readonly _tag: "Press"; readonly label: string }
  | { readonly _tag: "Pay"; readonly messageId: number | undefined }
  | { readonly _tag: "Edit" | "Reply"; readonly messageId: number; readonly text: string }
  | { readonly _tag: "Block" | "Unblock" | "Messages" | "Menu" }

export interface Invocation {
  readonly action: Action
  readonly language: Option.Option<string>
  readonly userId: Option.Option<number>
}

const messageId = (raw: string | undefined) => {
  const id = Number((raw ?? "").replace(/^#/, ""))
  return Number.isInteger(id) && id > 0 ? id : undefined
}

/** The `start` parameter of a deep link (`https://t.me/bot?start=x`, `t.me/bot?start=x`) or the bare parameter. */
const startParameter = (raw: string): string | undefined => {
  const fromLink = /[?&]start=([A-Za-z0-9_-]{1,64})(?:&|$)/.exec(raw)
  const parameter = fromLink?.[1] ?? raw
  return /^[A-Za-z0-9_-]{1,64}$/.test(parameter) ? parameter : undefined
}

/** The action and options of a command line, or a line saying what is wrong with it. */
export const parseArguments = (argv: ReadonlyArray<string>): Invocation | string => {
  let language: Option.Option<string> = Option.none()
  let userId: Option.Option<number> = Option.none()
  const rest: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined]
    if (flag === "--lang" || flag === "--user") {
      const value = inline ?? argv[++i]
      if (value === undefined || value === "") return `${flag} needs a value`
      if (flag === "--lang") language = Option.some(value)
      else if (Number.isSafeInteger(Number(value)) && Number(value) > 0) userId = Option.some(Number(value))
      else return `--user needs a user id, got "${value}"`
    } else rest.push(argv[i]!)
  }
  const [verb, ...args] = rest
  const action = ((): Action | string => {
    if (verb === undefined) return "no action given"
    if (verb.startsWith("/")) return { _tag: "Text", text: rest.join(" ") }
    switch (verb) {
      case "text":
        return args.length === 0 ? "text needs the text to send" : { _tag: "Text", text: args.join(" ") }
      case "balance":
        return { _tag: "Text", text: "/balance" }
      case "invite":
        return { _tag: "Text", text: "/invite" }
      case "open": {
        const parameter = startParameter(args[0] ?? "")
        return parameter === undefined ? "open needs a t.me link with ?start=… or the start parameter itself" : { _tag: "Text", text: `/start ${parameter}` }
      }
      case "promo":
        return args[0] === undefined ? "promo needs the code" : { _tag: "Text", text: `/promo ${args[0]}` }
      case "photo":
      case "document":
      case "video":
        return args[0] === undefined ? `${verb} needs a file` : { _tag: "Media", kind: verb, file: args[0], caption: args[1] }
      case "sticker":
        return { _tag: "Sticker", emoji: args[0] }
      case "voice":
        return { _tag: "Voice", seconds: Math.max(1, Math.round(Number(args[0] ?? "2")) || 2) }
      case "press":
        return args.length === 0 ? "press needs the button's text" : { _tag: "Press", label: args.join(" ") }
      case "pay":
        return { _tag: "Pay", messageId: messageId(args[0]) }
      case "edit":
      case "reply": {
        const id = messageId(args[0])
        if (id === undefined || args.length < 2) return `${verb} needs a message id and the text`
        return { _tag: verb === "edit" ? "Edit" : "Reply", messageId: id, text: args.slice(1).join(" ") }
      }
      case "menu":
        return { _tag: "Menu" }
      case "block":
        return { _tag: "Block" }
      case "unblock":
        return { _tag: "Unblock" }
      case "messages":
        return { _tag: "Messages" }
      default:
        return `unknown action "${verb}"`
    }
  })()
  return typeof action === "string" ? action : { action, language, userId }
}
