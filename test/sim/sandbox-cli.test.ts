/**
 * `npm run sandbox` against one real sandbox process (`src/main.ts` without credentials):
 * every user action, every kind of answer printed, and each wait ended by what the bot
 * does. The actions run in-process (the CLI's own functions, as the command runs them);
 * the last case runs the command's entry point as a process, from the suite's bundle of the
 * sources (test/support/product-bundle.ts; tsx itself is started by test/npm-start.test.ts).
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { once } from "node:events"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import { parseArguments } from "../../src/sim/sandbox-args.js"
import { runAction, targetFrom } from "../../src/sim/sandbox-cli.js"
import { defaultWaitPolicy, SandboxOutput } from "../../src/sim/sandbox-session.js"
import { photoBytes } from "../support/job-harness.js"
import { freePort, getJson, productArguments, startBot, type StartedBot, waitFor } from "../../src/sim/runner-process.js"

let dataDir = ""
let sandbox: StartedBot | undefined
let photo = ""

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bot-sandbox-cli-"))
  photo = join(dataDir, "photo.jpg")
  writeFileSync(photo, photoBytes)
  const httpPort = await freePort()
  sandbox = startBot({ DATA_DIR: dataDir, HTTP_HOST: "127.0.0.1", HTTP_PORT: String(httpPort), RUNNER_PORT: String(await freePort()) })
  const ready = await waitFor(
    async () => existsSync(join(dataDir, "sandbox.json")) && (await getJson(`http://127.0.0.1:${httpPort}/readyz`)).status === 200,
    90_000
  )
  if (!ready) throw new Error(`the sandbox did not start:\n${sandbox.output()}`)
}, 120_000)

afterAll(async () => {
  sandbox?.child.kill("SIGTERM")
  await sandbox?.exited
  rmSync(dataDir, { recursive: true, force: true })
})

/** Runs one command line as the CLI does; the lines it prints and how long it took. */
const cli = (line: ReadonlyArray<string>, env: Record<string, string> = {}, policy = defaultWaitPolicy) =>
  Effect.gen(function*() {
    const invocation = parseArguments(line)
    if (typeof invocation === "string") return yield* Effect.die(invocation)
    const printed: Array<string> = []
    const started = Date.now()
    const target = yield* targetFrom(invocation).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ DATA_DIR: dataDir, ...env }))))
    )
    yield* runAction(target, invocation.action, policy).pipe(
      Effect.provide(Layer.succeed(SandboxOutput, { line: (text) => Effect.sync(() => printed.push(text)) }))
    )
    return { printed, text: printed.join("\n"), seconds: (Date.now() - started) / 1000 }
  })

describe("npm run sandbox", { timeout: 120_000 }, () => {
  it.live("a purchase: a photo refused for credits ends at once, /buy, a package, pay; then a photo becomes a video", () =>
    Effect.gen(function*() {
      yield* cli(["/start"])
      yield* cli(["/settings"])
      const setting = yield* cli(["press", "12 s"])
      expect(setting.text).toMatch(/^bot \(toast\): /m)
      expect(setting.text).toMatch(/^bot edits #\d+: .*\[✅ [^\]]*12 s/m)

      // 3 credits for the video, 2 free ones: refused at once, with the packages to buy.
      const refused = yield* cli(["photo", photo, "the waves roll in"])
      expect(refused.printed[0]).toBe(`you: [photo ${photo}] the waves roll in`)
      expect(refused.text).toMatch(/^bot #\d+: .*\[Buy 5 credits for 250 ⭐\]/ms)
      expect(refused.seconds).toBeLessThan(15)

      yield* cli(["/buy"])
      const invoice = yield* cli(["press", "5 credits"])
      expect(invoice.text).toMatch(/^bot #\d+ sends an invoice: "5 credits", 250 ⭐/m)
      const paid = yield* cli(["pay"])
      expect(paid.printed).toEqual([
        expect.stringMatching(/^you: \[pay invoice #\d+: "5 credits", 250 ⭐\]$/),
        "bot accepts the checkout",
        expect.stringMatching(/^bot #\d+: Thank you! 5 credits added\./)
      ])

      // The job: the wait spans KIE's ~12 s of silence and ends after the video and the last edit.
      const video = yield* cli(["photo", photo, "the waves roll in"])
      const sentVideo = video.printed.findIndex((line) => /^bot #\d+ sends a video: /.test(line))
      expect(sentVideo, video.text).toBeGreaterThan(0)
      expect(video.printed.slice(sentVideo + 1).some((line) => /^bot edits #\d+: /.test(line)), video.text).toBe(true)
      expect(video.text).toMatch(/^bot is sending a video…$/m)
    }))

  it.live("invitations and promo codes: invite, open a deep link, promo", () =>
    Effect.gen(function*() {
      const invite = yield* cli(["--user", "1004", "invite"])
      expect(invite.printed[0]).toBe("you: /invite")
      const link = /https:\/\/t\.me\/\S+\?start=ref_\w+/.exec(invite.text)?.[0]
      expect(link, invite.text).toBeDefined()
      const opened = yield* cli(["--user", "1005", "open", link!])
      expect(opened.printed[0]).toMatch(/^you: \/start ref_\w+$/)
      expect(opened.text).toMatch(/^bot #\d+: Hi Sandbox!/m)

      const created = yield* cli(["--user", "1000", "/promo_new", "SANDBOX", "2", "5", "7d"])
      expect(created.text).toMatch(/^bot #\d+: Created SANDBOX: 2 credits \(free\) per user, at most 5 uses/m)
      expect((yield* cli(["--user", "1005", "promo", "sandbox"])).text).toMatch(/^bot #\d+: 🎁 Promo code accepted: 2 credits added\./m)
      expect((yield* cli(["--user", "1005", "promo", "SANDBOX"])).text).toMatch(/already used the promo code “SANDBOX”/)
      expect((yield* cli(["--user", "1004", "open", "promo_SANDBOX"])).text).toMatch(/Promo code accepted/)
      expect(parseArguments(["open", "https://example.com/"])).toMatch(/^open needs a t\.me link/)
      expect(parseArguments(["promo"])).toBe("promo needs the code")
    }))

  it.live("the other actions: sticker, voice, a document, a video, an edit, block and unblock, the chat; a Russian-speaking user", () =>
    Effect.gen(function*() {
      for (const [line, answer] of [
        [["sticker", "🐱"], /^you: \[sticker 🐱\]\nbot #\d+: Please send me a photo/],
        [["voice", "3"], /^you: \[voice note, 3 s\]\nbot #\d+: Please send me a photo/],
        [["document", "README.md"], /^you: \[document README\.md\]\nbot #\d+: This file is not an image/],
        [["video", photo], /^you: \[video .*\]\nbot #\d+: Please send me a photo/]
      ] as const) {
        expect((yield* cli(line)).text).toMatch(answer)
      }
      const said = yield* cli(["text", "hello there"])
      const id = /^bot #(\d+)/m.exec(said.text)![1]!
      // The bot does not answer edits: the CLI says so once the bot has taken the update.
      const edit = yield* cli(["edit", String(Number(id) - 1), "hello again"], {}, { ...defaultWaitPolicy, noAnswer: "2 seconds" })
      expect(edit.printed).toEqual([`you: [edit #${Number(id) - 1}] hello again`, "(the bot took the update but did not answer within 2s)"])
      expect((yield* cli(["block"])).printed).toEqual(["you: [block the bot]"])
      expect((yield* cli(["unblock"])).printed).toEqual(["you: [unblock the bot]"])

      const chat = (yield* cli(["messages"])).text
      expect(chat).toMatch(/^bot #\d+: \[invoice "5 credits", 250 ⭐\]$/m)
      expect(chat).toMatch(/^you #\d+: \[paid 250 ⭐\]$/m)
      expect(chat).toMatch(/^bot #\d+: \[video\]: /m)
      expect(chat).toMatch(new RegExp(`^you #${Number(id) - 1} \\(edited\\): hello again$`, "m"))

      const russian = yield* cli(["--lang", "ru", "--user", "1002", "/start"])
      expect(russian.text).toMatch(/^bot #\d+: Привет, Sandbox!/m)
      const byEnv = yield* cli(["/help"], { SANDBOX_USER: "1002" })
      expect(byEnv.text).toMatch(/^bot #\d+: [^\n]*[А-Яа-я]/m)
    }))

  it.live("a support request: the user writes, the sandbox's admin (user 1000) answers with a reply; the menu", () =>
    Effect.gen(function*() {
      expect((yield* cli(["--user", "1004", "/paysupport"])).text).toMatch(/^bot #\d+: Support: write your message now.*\[✖️ Cancel\]/ms)
      const sent = yield* cli(["--user", "1004", "text", "I paid 250 stars and got nothing"])
      expect(sent.text).toMatch(/^bot #\d+: ✅ Your message has reached our support team/m)
      const inbox = (yield* cli(["--user", "1000", "messages"])).text
      const id = /^bot #(\d+): ✉️ Support request from Sandbox, user 1004/m.exec(inbox)?.[1]
      expect(id, inbox).toBeDefined()
      const answered = yield* cli(["--user", "1000", "reply", `#${id}`, "Refunded, sorry!"])
      expect(answered.printed[0]).toBe(`you: [reply to #${id}] Refunded, sorry!`)
      expect(answered.text).toMatch(/^bot #\d+: Sent to user 1004\./m)
      expect((yield* cli(["--user", "1004", "messages"])).text).toMatch(/^bot #\d+: 💬 Support:/m)
      const menu = yield* cli(["--user", "1004", "menu"])
      expect(menu.printed[0]).toBe("/start — Start: how it works")
      expect(menu.printed).not.toContain("/forget — <user id>: delete a user's data")
      expect((yield* cli(["--user", "1000", "menu"])).printed).toContain("/forget — <user id>: delete a user's data")
    }))

  it.live("a bare photo's preset menu, one tap; the admin broadcasts a reply's text to everyone", () =>
    Effect.gen(function*() {
      const menu = yield* cli(["--user", "1005", "photo", photo])
      expect(menu.text).toMatch(/^bot #\d+: No caption\? Pick a motion.*\[🔍 Zoom in · 1 credit\]/ms)
      const tapped = yield* cli(["--user", "1005", "press", "Zoom in"])
      expect(tapped.text).toMatch(/Zoom in: starting…/)
      yield* cli(["--user", "1000", "text", "Big news: a new model"])
      const history = (yield* cli(["--user", "1000", "messages"])).text
      const id = /^you #(\d+): Big news: a new model$/m.exec(history)?.[1]
      expect(id, history).toBeDefined()
      const draft = yield* cli(["--user", "1000", "reply", `#${id}`, "/broadcast"])
      expect(draft.text).toMatch(/📣 Broadcast #\d+: the message above goes to \d+ users/)
      yield* cli(["--user", "1000", "press", "Send to"])
      // The campaign's last status edit may come after the press's replies go quiet (a loaded machine).
      const finished = /📣 Broadcast #\d+ finished: sent \d+ of \d+ · blocked 0 · failed 0/
      let chat = (yield* cli(["--user", "1000", "messages"])).text
      for (let attempt = 0; attempt < 20 && !finished.test(chat); attempt++) {
        yield* Effect.sleep("1 second")
        chat = (yield* cli(["--user", "1000", "messages"])).text
      }
      expect(chat).toMatch(finished)
      expect((yield* cli(["--user", "1005", "messages"])).text).toContain("Big news: a new model")
    }))

  it.live("the command itself, as a Russian-speaking user short of credits: the refusal, then it exits at once", () =>
    Effect.gen(function*() {
      yield* cli(["--lang", "ru", "--user", "1003", "/settings"])
      yield* cli(["--user", "1003", "press", "12 с"])
      const run = spawn(process.execPath, [...productArguments("sandbox-cli"), "photo", photo, "волны"], {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATA_DIR: dataDir, SANDBOX_USER: "1003" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const refusal = /^bot #\d+: Не хватает кредитов.*\[Купить 5 кредитов за 250 ⭐\]/ms
      let output = ""
      let refusedAt: number | undefined
      const collect = (chunk: Buffer) => {
        output += chunk
        if (refusedAt === undefined && refusal.test(output)) refusedAt = Date.now()
      }
      run.stdout.on("data", collect)
      run.stderr.on("data", collect)
      const [code] = yield* Effect.promise(() => once(run, "exit"))
      expect(code, output).toBe(0)
      expect(output).toMatch(refusal)
      // "At once": after the refusal it does not wait out the long silence it allows a job
      // (node's start-up before the refusal, slow on a loaded machine, is not the CLI's doing).
      expect(Date.now() - refusedAt!).toBeLessThan(Duration.toMillis(defaultWaitPolicy.quietBlind) / 2)
    }))
})
