/**
 * Act as a Telegram user of a running sandbox (`npm start` without credentials), from the
 * terminal, through the Telegram simulator's /sim/ control API:
 *
 *   npm run sandbox -- photo path/to.jpg "the waves roll in"   send a photo with a caption
 *   npm run sandbox -- press "Generate again"                   press a button under the bot's last message
 *   npm run sandbox -- text /help                               send a text or a command
 *   npm run sandbox -- balance                                  same as: text /balance
 *   npm run sandbox -- messages                                 the whole chat
 *
 * Prints what the bot answers (new messages, edits, videos) until it goes quiet; after a
 * photo, until the video or a failure message arrives. The simulator's URL comes from
 * DATA_DIR/sandbox.json (written by the sandbox) or SANDBOX_URL; the user from SANDBOX_USER.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"

const dataDir = process.env.DATA_DIR ?? "./data"
const userId = Number(process.env.SANDBOX_USER ?? "1001")

const simUrl = (): string => {
  if (process.env.SANDBOX_URL) return process.env.SANDBOX_URL.replace(/\/+$/, "")
  try {
    return (JSON.parse(readFileSync(join(dataDir, "sandbox.json"), "utf8")) as { telegramUrl: string }).telegramUrl
  } catch {
    console.error(`No running sandbox found (${join(dataDir, "sandbox.json")} is missing). Start one with: npm start`)
    process.exit(1)
  }
}

const base = simUrl()

const call = async (method: "GET" | "POST", path: string, body?: unknown): Promise<any> => {
  const response = await fetch(`${base}/sim/${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } })
  })
  const json = (await response.json()) as { ok: boolean; result?: unknown; description?: string }
  if (!json.ok) throw new Error(json.description ?? `HTTP ${response.status}`)
  return json.result
}

const ensureUser = async () => {
  try {
    await call("POST", "users", { id: userId, first_name: "Sandbox", language_code: "en" })
  } catch {
    // already there
  }
}

const buttonsOf = (markup: any): string =>
  markup?.inline_keyboard ? `  [${markup.inline_keyboard.flat().map((b: any) => b.text).join("] [")}]` : ""

const describe = (c: any): string | undefined => {
  const p = c.params ?? {}
  if (Number(p.chat_id) !== userId && c.method !== "answerCallbackQuery") return undefined
  switch (c.method) {
    case "sendMessage":
      return `bot: ${p.text}${buttonsOf(p.reply_markup)}`
    case "editMessageText":
      return `bot (edit): ${p.text}${buttonsOf(p.reply_markup)}`
    case "sendVideo":
      return `bot sends a video: ${p.caption ?? ""}${buttonsOf(p.reply_markup)}`
    case "answerCallbackQuery":
      return p.text ? `bot (button answer): ${p.text}` : undefined
    default:
      return undefined
  }
}

const lastSeq = async (): Promise<number> => {
  const calls = (await call("GET", "calls?since=0")) as Array<{ seq: number }>
  return calls.length === 0 ? 0 : calls[calls.length - 1]!.seq
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Prints the bot's calls after `since` until `done` or `quietMs` without news (max `limitMs`). */
const follow = async (since: number, options: { quietMs: number; limitMs: number; done?: (c: any) => boolean }) => {
  let seq = since
  let lastNews = Date.now()
  const started = Date.now()
  while (Date.now() - started < options.limitMs && Date.now() - lastNews < options.quietMs) {
    await sleep(300)
    const calls = (await call("GET", `calls?since=${seq}`)) as Array<any>
    for (const c of calls) {
      seq = Math.max(seq, c.seq)
      const line = describe(c)
      if (line === undefined) continue
      lastNews = Date.now()
      console.log(line)
      if (options.done?.(c)) return
    }
  }
}

const isVerdict = (c: any) =>
  c.method === "sendVideo" ||
  (c.method === "sendMessage" && /credit is back|not enough credits|caption has|in progress|Please send/i.test(String(c.params?.text)))

const main = async () => {
  const [command, ...args] = process.argv.slice(2)
  await ensureUser()
  const since = await lastSeq()
  switch (command) {
    case "photo": {
      const [path, caption] = args
      if (path === undefined) throw new Error(`usage: npm run sandbox -- photo path/to.jpg "prompt"`)
      const base64 = readFileSync(path).toString("base64")
      await call("POST", `users/${userId}/photo`, { base64, ...(caption === undefined ? {} : { caption }) })
      console.log(`you: [photo ${path}]${caption === undefined ? "" : ` ${caption}`}`)
      return follow(since, { quietMs: 60_000, limitMs: 180_000, done: isVerdict })
    }
    case "press": {
      const label = args.join(" ")
      const messages = (await call("GET", `users/${userId}/messages`)) as Array<any>
      const target = [...messages].reverse().find((m) =>
        m.sender === "bot" &&
        (m.message.reply_markup?.inline_keyboard ?? []).flat().some((b: any) => String(b.text).includes(label))
      )
      if (target === undefined) throw new Error(`no button "${label}" under the bot's messages`)
      const button = target.message.reply_markup.inline_keyboard.flat().find((b: any) => String(b.text).includes(label))
      await call("POST", `users/${userId}/press`, { button: button.callback_data, messageId: target.message.message_id })
      console.log(`you: [press ${button.text}]`)
      return follow(since, { quietMs: 20_000, limitMs: 180_000, done: isVerdict })
    }
    case "balance":
    case "text": {
      const text = command === "balance" ? "/balance" : args.join(" ")
      await call("POST", `users/${userId}/text`, { text })
      console.log(`you: ${text}`)
      return follow(since, { quietMs: 3_000, limitMs: 30_000 })
    }
    case "messages": {
      const messages = (await call("GET", `users/${userId}/messages`)) as Array<any>
      for (const m of messages) {
        const msg = m.message
        const body = msg.text ?? msg.caption ?? (msg.photo ? "[photo]" : msg.video ? "[video]" : "[message]")
        console.log(`${m.sender === "bot" ? "bot" : "you"}: ${msg.video ? "[video] " : ""}${body}${buttonsOf(msg.reply_markup)}`)
      }
      return
    }
    default:
      console.log(`usage: npm run sandbox -- photo <file> ["prompt"] | press "<button>" | text <text> | balance | messages`)
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
