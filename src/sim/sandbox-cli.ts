/**
 * Act as a Telegram user of a running sandbox (`npm start` without credentials), from the
 * terminal. `npm run sandbox` alone prints the actions (see `usage`). Each action prints
 * what the bot does in answer and returns when the bot is done (src/sim/sandbox-session.ts).
 *
 * The simulator's URL comes from DATA_DIR/sandbox.json (written by the sandbox) or
 * SANDBOX_URL; the bot's HTTP server (for /metrics) from the same file or SANDBOX_BOT_URL
 * (default http://127.0.0.1:8080, the default HTTP_PORT); the user from SANDBOX_USER or
 * --user (default 1001); the language of the user's app from SANDBOX_LANG or --lang.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer, Option } from "effect"
import { readFileSync } from "node:fs"
import { basename, extname, join } from "node:path"
import { type Action, type Invocation, parseArguments, usage } from "./sandbox-args.js"
import { describeMessage } from "./sandbox-print.js"
import {
  chatOf,
  control,
  ensureUser,
  follow,
  lastCallSeq,
  SandboxError,
  SandboxOutput,
  type SandboxTarget,
  type UserAction,
  type WaitPolicy
} from "./sandbox-session.js"

const mimeTypes: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".webp": "image/webp",
  ".gif": "image/gif",
  ".mp4": "video/mp4",
  ".pdf": "application/pdf",
  ".txt": "text/plain"
}

const readBase64 = (file: string) =>
  Effect.try({ try: () => readFileSync(file).toString("base64"), catch: () => new SandboxError({ message: `cannot read ${file}` }) })

interface Sent {
  readonly update?: { readonly update_id: number } | undefined
}

/** A message the user sends: it becomes one update, which the bot answers. */
const sent = (result: Sent): UserAction => ({ updateIds: result.update === undefined ? [] : [result.update.update_id], expectsAnswer: true })

const findButton = (target: SandboxTarget, label: string) =>
  Effect.gen(function*() {
    const wanted = label.trim().toLowerCase()
    const messages = [...(yield* chatOf(target))].reverse().filter((m) => m.sender === "bot" && !m.deleted)
    for (const match of [(text: string) => text === wanted, (text: string) => text.includes(wanted)]) {
      for (const stored of messages) {
        const found = (stored.message.reply_markup?.inline_keyboard ?? []).flat()
          .find((button: { text: string; callback_data?: string }) =>
            button.callback_data !== undefined && match(button.text.trim().toLowerCase()))
        if (found !== undefined) return { messageId: stored.message.message_id as number, button: found as { text: string; callback_data: string } }
      }
    }
    return yield* new SandboxError({ message: `no button "${label}" under the bot's messages (see: npm run sandbox -- messages)` })
  })

/** Does the action; returns what the wait needs to know about it. */
const perform = (target: SandboxTarget, action: Action, say: (line: string) => Effect.Effect<void>) =>
  Effect.gen(function*(): Effect.fn.Return<UserAction | undefined, SandboxError> {
    const user = `users/${target.userId}`
    switch (action._tag) {
      case "Text":
        yield* say(`you: ${action.text}`)
        return sent(yield* control(target, "POST", `${user}/text`, { text: action.text }))
      case "Media": {
        const base64 = yield* readBase64(action.file)
        const caption = action.caption === undefined ? {} : { caption: action.caption }
        const body = action.kind === "document"
          ? { base64, fileName: basename(action.file), mimeType: mimeTypes[extname(action.file).toLowerCase()] ?? "application/octet-stream", ...caption }
          : { base64, ...caption }
        yield* say(`you: [${action.kind} ${action.file}]${action.caption === undefined ? "" : ` ${action.caption}`}`)
        return sent(yield* control(target, "POST", `${user}/${action.kind}`, body))
      }
      case "Sticker":
        yield* say(`you: [sticker ${action.emoji ?? "👍"}]`)
        return sent(yield* control(target, "POST", `${user}/sticker`, action.emoji === undefined ? {} : { emoji: action.emoji }))
      case "Voice":
        yield* say(`you: [voice note, ${action.seconds} s]`)
        return sent(yield* control(target, "POST", `${user}/voice`, { duration: action.seconds }))
      case "Edit":
        yield* say(`you: [edit #${action.messageId}] ${action.text}`)
        return sent(yield* control(target, "POST", `${user}/edit`, { messageId: action.messageId, text: action.text }))
      case "Reply":
        yield* say(`you: [reply to #${action.messageId}] ${action.text}`)
        return sent(yield* control(target, "POST", `${user}/text`, { text: action.text, replyTo: action.messageId }))
      case "Menu": {
        const menu: ReadonlyArray<{ command: string; description: string }> = yield* control(target, "GET", `${user}/menu`)
        if (menu.length === 0) yield* say("(no command menu: the bot has not registered one)")
        for (const entry of menu) yield* say(`/${entry.command} — ${entry.description}`)
        return undefined
      }
      case "Press": {
        const { messageId, button } = yield* findButton(target, action.label)
        yield* say(`you: [press "${button.text}" under #${messageId}]`)
        const pressed: { callbackQuery: { id: string } } & Sent = yield* control(target, "POST", `${user}/press`, { button: button.callback_data, messageId })
        return { ...sent(pressed), callbackQueryId: pressed.callbackQuery.id }
      }
      case "Pay": {
        const invoices = (yield* chatOf(target)).filter((m) => m.sender === "bot" && !m.deleted && m.message.invoice !== undefined)
        const invoice = action.messageId === undefined ? invoices.at(-1) : invoices.find((m) => m.message.message_id === action.messageId)
        if (invoice === undefined) return yield* new SandboxError({ message: "no invoice to pay (press a package under /buy first)" })
        yield* say(`you: [pay invoice #${invoice.message.message_id}: "${invoice.message.invoice.title}", ${invoice.message.invoice.total_amount} ⭐]`)
        const outcome: { status: string; updates?: ReadonlyArray<{ update_id: number }> } = yield* control(target, "POST", `${user}/pay`, {
          messageId: invoice.message.message_id
        })
        if (outcome.status !== "paid") yield* say(`(payment ${outcome.status})`)
        // The checkout's answer came before `pay` returned; the wait is for the paid message's.
        return { updateIds: (outcome.updates ?? []).map((u) => u.update_id), expectsAnswer: outcome.status === "paid" }
      }
      case "Block":
      case "Unblock":
        yield* say(`you: [${action._tag === "Block" ? "block" : "unblock"} the bot]`)
        yield* control(target, "POST", `${user}/${action._tag === "Block" ? "block" : "unblock"}`)
        return { updateIds: [], expectsAnswer: false }
      case "Messages":
        for (const message of yield* chatOf(target)) yield* say(describeMessage(message))
        return undefined
    }
  })

/** One action as this user, printed with everything the bot does in answer. */
export const runAction = (target: SandboxTarget, action: Action, policy?: WaitPolicy) =>
  Effect.gen(function*() {
    const output = yield* SandboxOutput
    yield* ensureUser(target)
    const since = yield* lastCallSeq(target)
    const done = yield* perform(target, action, output.line)
    if (done !== undefined) yield* follow(target, since, done, policy)
  })

interface SandboxFile {
  readonly telegramUrl?: string
  readonly botUrl?: string
}

/** The target from the environment and the options; fails with a line to print when no sandbox is found. */
export const targetFrom = (invocation: Invocation) =>
  Effect.gen(function*() {
    const dataDir = yield* Config.string("DATA_DIR").pipe(Config.withDefault("./data"))
    const file = join(dataDir, "sandbox.json")
    const written = yield* Effect.try(() => JSON.parse(readFileSync(file, "utf8")) as SandboxFile).pipe(Effect.option)
    const simUrl = yield* Config.string("SANDBOX_URL").pipe(Config.option)
    const botUrl = yield* Config.string("SANDBOX_BOT_URL").pipe(Config.option)
    const userId = yield* Config.integer("SANDBOX_USER").pipe(Config.withDefault(1001))
    const language = yield* Config.string("SANDBOX_LANG").pipe(Config.option)
    const sim = Option.orElse(simUrl, () => Option.flatMapNullable(written, (w) => w.telegramUrl))
    if (Option.isNone(sim)) {
      return yield* new SandboxError({ message: `No running sandbox found (${file} is missing). Start one with: npm start` })
    }
    const trim = (url: string) => url.replace(/\/+$/, "")
    return {
      simUrl: trim(sim.value),
      botUrl: Option.map(
        Option.orElse(botUrl, () => Option.orElse(Option.flatMapNullable(written, (w) => w.botUrl), () => Option.some("http://127.0.0.1:8080"))),
        trim
      ),
      userId: Option.getOrElse(invocation.userId, () => userId),
      language: Option.orElse(invocation.language, () => language)
    } satisfies SandboxTarget
  })

const ConsoleOutput = Layer.succeed(SandboxOutput, { line: (text) => Console.log(text) })

const main = Effect.gen(function*() {
  const invocation = parseArguments(process.argv.slice(2))
  if (typeof invocation === "string") {
    yield* Console.error(`${invocation}\n${usage}`)
    return yield* Effect.sync(() => process.exit(2))
  }
  yield* runAction(yield* targetFrom(invocation), invocation.action)
}).pipe(
  Effect.catchAll((error) =>
    Effect.zipRight(Console.error(error._tag === "SandboxError" ? error.message : String(error)), Effect.sync(() => process.exit(1)))
  ),
  Effect.provide(ConsoleOutput)
)

if (process.argv[1] !== undefined && /sandbox-cli\.[jt]s$/.test(process.argv[1])) {
  NodeRuntime.runMain(main, { disableErrorReporting: true, disablePrettyLogger: true })
}
