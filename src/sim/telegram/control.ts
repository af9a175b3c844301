/**
 * A JSON control API under `/sim/` so another process (the sandbox, a benchmark, a person with
 * curl) can act as users and read what the bot did:
 *
 *   POST /sim/users                     { id, first_name, language_code? }
 *   POST /sim/users/:id/language        { language_code }   the user's next updates carry it
 *   POST /sim/users/:id/text            { text, replyTo? }   replyTo: a message id of the chat
 *   GET  /sim/users/:id/menu            → the command menu the user's app shows
 *   POST /sim/users/:id/photo           { base64, caption?, width?, height? }
 *   POST /sim/users/:id/document        { base64, fileName?, mimeType?, caption? }
 *   POST /sim/users/:id/sticker         { emoji? }
 *   POST /sim/users/:id/voice           { duration? }
 *   POST /sim/users/:id/video           { base64, caption?, duration? }
 *   POST /sim/users/:id/edit            { messageId, text }   an edit of the user's own text message
 *   POST /sim/users/:id/press           { button, messageId? }
 *   POST /sim/users/:id/pay             { messageId? | link?, delivery? }   → payment outcome
 *   POST /sim/users/:id/block, /unblock
 *   GET  /sim/users/:id/messages        → the chat as the user sees it
 *   GET  /sim/updates/:updateId         → { pending }: whether the bot has not taken it yet
 *   GET  /sim/calls?since=N             → recorded Bot API calls after N
 *   POST /sim/faults                    FaultSpec;  DELETE /sim/faults clears them
 */
import { badRequest, notFound } from "./api-error.js"
import type { CallLog } from "./call-log.js"
import type { NewUser } from "./chats.js"
import type { Fault, Faults, FaultSpec } from "./faults.js"
import type { SuccessfulPaymentDelivery } from "./payments.js"
import type { SimUser } from "./sim-user.js"
import type { BotCommand, User } from "grammy/types"

/** The part of the simulator the control API drives (the simulator passes itself). */
export interface ControlledSimulator {
  readonly calls: CallLog
  readonly faults: Faults
  createUser(input: NewUser): SimUser
  user(id: number): SimUser
  injectFault(spec: FaultSpec): Fault
  isUpdatePending(updateId: number): boolean
  setUserLanguage(userId: number, languageCode: string): User
  commandMenu(userId: number): Array<BotCommand>
}

export interface ControlAnswer {
  readonly status: number
  readonly body: unknown
}

type Body = Record<string, unknown>

const num = (body: Body, key: string): number | undefined => (typeof body[key] === "number" ? body[key] : undefined)
const text = (body: Body, key: string): string | undefined => (typeof body[key] === "string" ? body[key] : undefined)
const bytes = (body: Body): Buffer => {
  const data = text(body, "base64")
  if (data === undefined) throw badRequest("base64 is required")
  return Buffer.from(data, "base64")
}
const options = <T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> }

export const handleControl = async (sim: ControlledSimulator, method: string, url: URL, body: Body): Promise<ControlAnswer> => {
  const path = url.pathname.replace(/^\/sim\/?/, "").split("/").filter((s) => s !== "")
  const ok = (result: unknown): ControlAnswer => ({ status: 200, body: { ok: true, result } })

  if (path[0] === "users" && path.length === 1 && method === "POST") {
    const id = num(body, "id")
    const firstName = text(body, "first_name")
    if (id === undefined || firstName === undefined) throw badRequest("id and first_name are required")
    return ok(sim.createUser(options({ id, first_name: firstName, language_code: text(body, "language_code"), username: text(body, "username") })).user)
  }
  if (path[0] === "users" && path.length === 3) {
    const user = sim.user(Number(path[1]))
    switch (`${method} ${path[2]}`) {
      case "POST text":
        return ok(user.sendText(text(body, "text") ?? "", options({ replyTo: num(body, "replyTo") })))
      case "POST photo":
        return ok(user.sendPhoto(bytes(body), options({ caption: text(body, "caption"), width: num(body, "width"), height: num(body, "height") })))
      case "POST document":
        return ok(user.sendDocument(bytes(body), options({ fileName: text(body, "fileName"), mimeType: text(body, "mimeType"), caption: text(body, "caption") })))
      case "POST sticker":
        return ok(user.sendSticker(options({ emoji: text(body, "emoji") })))
      case "POST voice":
        // A voice note's bytes are never looked at; a second of silence's worth will do.
        return ok(user.sendVoice(new Uint8Array(1024), options({ duration: num(body, "duration") })))
      case "POST video":
        return ok(user.sendVideo(bytes(body), options({ caption: text(body, "caption"), duration: num(body, "duration") })))
      case "POST edit": {
        const messageId = num(body, "messageId")
        if (messageId === undefined) throw badRequest("messageId is required")
        return ok(user.editText(messageId, text(body, "text") ?? ""))
      }
      case "POST language": {
        const language = text(body, "language_code")
        if (language === undefined) throw badRequest("language_code is required")
        return ok(sim.setUserLanguage(user.id, language))
      }
      case "POST block":
        user.blockBot()
        return ok(true)
      case "POST unblock":
        user.unblockBot()
        return ok(true)
      case "POST press": {
        const pressed = user.pressButton(text(body, "button") ?? "", num(body, "messageId"))
        return ok({ callbackQuery: pressed.callbackQuery, update: pressed.update })
      }
      case "POST pay": {
        const delivery = text(body, "delivery") as SuccessfulPaymentDelivery | undefined
        return ok(await user.payInvoice(num(body, "messageId") ?? text(body, "link"), options({ delivery })))
      }
      case "GET messages":
        return ok(user.history())
      case "GET menu":
        return ok(sim.commandMenu(user.id))
    }
  }
  if (path[0] === "updates" && path.length === 2 && method === "GET") {
    return ok({ pending: sim.isUpdatePending(Number(path[1])) })
  }
  if (path[0] === "calls" && method === "GET") {
    const since = Number(url.searchParams.get("since") ?? "0")
    return ok(sim.calls.all().filter((c) => c.seq > since))
  }
  if (path[0] === "faults" && method === "POST") {
    const fault = sim.injectFault(body as unknown as FaultSpec)
    return ok({ spec: fault.spec })
  }
  if (path[0] === "faults" && method === "DELETE") {
    sim.faults.clear()
    return ok(true)
  }
  throw notFound()
}
