import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Clock,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  List,
  Logger,
  LogLevel,
  Option,
  Redacted,
  type Scope,
  TestClock
} from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { TelegramPermanentError, TelegramTransientError } from "../../src/errors/telegram-errors.js"
import { AppConfig, describeConfigError } from "../../src/config/index.js"
import { TransferPermits } from "../../src/jobs/transfer-permits.js"
import type { RateLimits } from "../../src/rate-limits/rate-limits.js"
import { inProcessLimits, redisLimits, redisUnderPrefix } from "../support/rate-limits.js"
import { makeTelegramSimulator, type TelegramSimulator } from "../../src/sim/telegram/index.js"
import { TelegramApiLive } from "../../src/telegram/api.js"
import { classifyAnswer } from "../../src/telegram/classify.js"
import {
  makeTelegramGateway,
  TelegramGatewayLive,
  type TelegramGatewayOptions
} from "../../src/telegram/gateway-live.js"
import { TelegramGateway } from "../../src/telegram/gateway.js"
import { retryDelay } from "../../src/telegram/retry-schedules.js"
import { slotSeekers } from "../../src/telegram/outgoing-limits.js"

const MB = 1024 * 1024
const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, ...Buffer.from("a tiny fake jpeg"), 0xff, 0xd9])


/**
 * Each gateway gets its own limiter (and store connection), as separate runners would; the
 * layer lives as long as the test's scope, not just while the gateway is built.
 */
const gatewayFor = (
  sim: TelegramSimulator,
  options: Partial<TelegramGatewayOptions> = {},
  limiter: Layer.Layer<RateLimits> = inProcessLimits(),
  transferPermits = 8
) =>
  Effect.flatMap(
    Layer.build(Layer.merge(limiter, TransferPermits.layerWith(transferPermits))),
    (context) =>
      makeTelegramGateway({ token: Redacted.make(sim.token), apiRoot: sim.url, ...options }).pipe(Effect.provide(context))
  )

const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Polls (in real time) until `condition` holds. */
const eventually = (condition: Effect.Effect<boolean>, timeoutMs = 5_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(yield* condition)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not reached in time"))
      yield* realSleep(2)
    }
  })

/**
 * Runs the effects concurrently under TestClock, moving virtual time to the next pending
 * sleep only when every unfinished fiber is asleep (so HTTP in flight always completes at
 * the current virtual time). `atRest(now)` sees each such moment, before time moves on.
 *
 * Fibers waiting their turn in a line block without a sleep, so time also moves on once
 * nothing has changed for `quietMs` of real time. That must outlast a Redis round trip or an
 * HTTP call under a loaded machine: a call still on its way when time moved would be seen
 * at the later time (CI once saw 11 sends in one second of a limit of 10 that way, with the
 * quiet period at five polls, a few milliseconds).
 */
const quietMs = 40

const drive = <A, E>(
  effects: ReadonlyArray<Effect.Effect<A, E>>,
  atRest: (nowMillis: number) => void = () => {}
): Effect.Effect<Array<Exit.Exit<A, E>>> =>
  Effect.gen(function*() {
    const fibers = yield* Effect.forEach(effects, (effect) => Effect.fork(effect))
    let quiet = 0
    let quietSince = performance.now()
    let before = ""
    while (true) {
      const exits = yield* Effect.forEach(fibers, Fiber.poll)
      const running = exits.filter(Option.isNone).length
      const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
      const state = `${running}:${sleeps.join(",")}`
      if (state === before) quiet++
      else {
        quiet = 0
        quietSince = performance.now()
      }
      before = state
      const settled = quiet >= 5 && performance.now() - quietSince >= quietMs
      if (running === 0 || sleeps.length >= running || (settled && sleeps.length > 0)) {
        atRest(yield* Clock.currentTimeMillis)
        if (running === 0) return exits.map((exit) => Option.getOrThrow(exit))
        yield* TestClock.setTime(Math.min(...sleeps))
        quiet = 0
        quietSince = performance.now()
      } else {
        yield* realSleep(quiet > 0 ? 2 : 1)
      }
    }
  })

const driveOne = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flatMap(drive([effect]), ([exit]) => exit!)

/** The virtual time of every simulator call, taken from `drive`'s resting points. */
const callClock = (sim: TelegramSimulator) => {
  const times = new Map<number, number>()
  return {
    atRest: (now: number) => {
      for (const call of sim.calls.all()) if (!times.has(call.seq)) times.set(call.seq, now)
    },
    timeOf: (seq: number) => times.get(seq)!
  }
}

/**
 * A loopback file host: GET/HEAD /<name> of generated bytes; counts requests by method and
 * path, and the most successful GETs it served at once (each `delayMs` slow).
 */
const fileHost = (
  files: Record<string, { size: number; failFirstGets?: number; contentLength?: boolean; hangGets?: boolean; delayMs?: number }>
) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const requests: Array<string> = []
      const gets = { inFlight: 0, peak: 0 }
      const content = new Map(Object.entries(files).map(([name, spec]) => [name, Buffer.alloc(spec.size, 7)]))
      const failures = new Map(Object.entries(files).map(([name, spec]) => [name, spec.failFirstGets ?? 0]))
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const name = (req.url ?? "/").slice(1)
        requests.push(`${req.method} /${name}`)
        const bytes = content.get(name)
        if (bytes === undefined) {
          res.statusCode = 404
          return res.end()
        }
        if (req.method === "GET" && files[name]!.hangGets === true) return // never answers
        if (req.method === "GET" && (failures.get(name) ?? 0) > 0) {
          failures.set(name, failures.get(name)! - 1)
          res.statusCode = 500
          return res.end()
        }
        const headers: Record<string, string | number> = { "content-type": "video/mp4" }
        if (files[name]!.contentLength !== false) headers["content-length"] = bytes.length
        if (req.method === "HEAD") return res.writeHead(200, headers).end()
        gets.peak = Math.max(gets.peak, ++gets.inFlight)
        setTimeout(() => {
          gets.inFlight--
          res.writeHead(200, headers).end(bytes)
        }, files[name]!.delayMs ?? 0)
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      return { server, requests, gets, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
    }),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  )

const videoOf = (url: string) => ({
  url,
  caption: "Your video",
  keyboard: [[{ text: "Generate again", callbackData: "again:1" }]],
  tooBigText: (size: number) => `Too big for Telegram (${Math.round(size / MB)} MB): ${url}`
})

const scenario = <A, E>(body: (sim: TelegramSimulator) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.flatMap(makeTelegramSimulator(), body)

describe("TelegramGateway classification and retry policy", () => {
  it("classifies Telegram answers into transient and permanent errors", () => {
    const table: Array<[number, string, number | undefined, string, string]> = [
      [429, "Too Many Requests: retry after 7", 7, "TelegramTransientError", "RateLimited"],
      [500, "Internal Server Error", undefined, "TelegramTransientError", "ServerError"],
      [502, "Bad Gateway", undefined, "TelegramTransientError", "ServerError"],
      [403, "Forbidden: bot was blocked by the user", undefined, "TelegramPermanentError", "BlockedByUser"],
      [400, "Bad Request: chat not found", undefined, "TelegramPermanentError", "ChatNotFound"],
      [400, "Bad Request: file is too big", undefined, "TelegramPermanentError", "FileTooBig"],
      [413, "Request Entity Too Large", undefined, "TelegramPermanentError", "FileTooBig"],
      [400, "Bad Request: message text is empty", undefined, "TelegramPermanentError", "BadRequest"],
      [401, "Unauthorized", undefined, "TelegramPermanentError", "Unauthorized"]
    ]
    for (const [errorCode, description, retryAfter, tag, reason] of table) {
      const error = classifyAnswer("sendMessage", { errorCode, description, retryAfter })
      expect([error._tag, error.reason]).toEqual([tag, reason])
    }
    expect(classifyAnswer("sendMessage", { errorCode: 429, description: "", retryAfter: 7 })).toMatchObject({
      retryAfterSeconds: 7
    })
  })

  it("waits retry_after for 429s, backs off for 5xx, never retries permanent errors", () => {
    const limited = (s: number) => new TelegramTransientError({ method: "m", reason: "RateLimited", retryAfterSeconds: s })
    const server = new TelegramTransientError({ method: "m", reason: "ServerError" })
    const blocked = new TelegramPermanentError({ method: "m", reason: "BlockedByUser" })
    const ms = (d: Duration.Duration | undefined) => d === undefined ? undefined : Duration.toMillis(d)
    expect(ms(retryDelay([limited(3)]))).toBe(3_000)
    expect(ms(retryDelay([limited(3), limited(3), limited(3), limited(3)]))).toBeUndefined()
    expect(ms(retryDelay([limited(3600)]))).toBeUndefined()
    expect([1, 2, 3, 4].map((n) => ms(retryDelay(Array(n).fill(server))))).toEqual([500, 1_000, 2_000, undefined])
    expect(ms(retryDelay([limited(2), server]))).toBe(500)
    expect(retryDelay([blocked])).toBeUndefined()
  })
})

describe("TelegramGateway against the Bot API simulator", () => {
  it.scoped("sends with an inline keyboard, edits (an unchanged edit is fine), sends chat actions and deletes", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5001, first_name: "Ada" })
        const gateway = yield* gatewayFor(sim)
        const messageId = yield* driveOne(
          gateway.sendMessage(user.id, "Queued", {
            keyboard: [[{ text: "Cancel", callbackData: "cancel:1" }], [{ text: "Help", url: "https://example.com/help" }]]
          })
        )
        const sent = sim.chatHistory(user.id).find((m) => m.message.message_id === messageId)!
        expect(sent.message.text).toBe("Queued")
        expect(sent.message.reply_markup).toEqual({
          inline_keyboard: [[{ text: "Cancel", callback_data: "cancel:1" }], [{ text: "Help", url: "https://example.com/help" }]]
        })

        yield* driveOne(gateway.editMessageText(user.id, messageId, "Generating"))
        yield* driveOne(gateway.editMessageText(user.id, messageId, "Generating"))
        const edits = sim.callsOf("editMessageText")
        expect(edits.map((c) => c.outcome.ok)).toEqual([true, false])
        expect(sent.message.text).toBe("Generating")

        yield* driveOne(gateway.sendChatAction(user.id, "upload_video"))
        expect(sim.callsOf("sendChatAction").map((c) => c.params["action"])).toEqual(["upload_video"])

        yield* driveOne(gateway.deleteMessage(user.id, messageId))
        expect(sent.deleted).toBe(true)
        // Deleting again is not an error: the message is gone either way.
        yield* driveOne(gateway.deleteMessage(user.id, messageId))
      })
    ))

  it.scoped("retries a 429 exactly retry_after virtual seconds later, not before", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5002, first_name: "Ben" })
        const gateway = yield* gatewayFor(sim)
        sim.injectFault({ kind: "retry_after", retryAfter: 3, method: "sendMessage", times: 1 })

        const fiber = yield* Effect.fork(gateway.sendMessage(user.id, "hello"))
        // The first call was refused and the gateway is asleep on the clock.
        yield* eventually(Effect.map(TestClock.sleeps(), (sleeps) => Chunk.size(sleeps) === 1))
        expect(sim.callsOf("sendMessage").map((c) => c.outcome)).toMatchObject([{ ok: false, error_code: 429 }])
        expect(Chunk.toReadonlyArray(yield* TestClock.sleeps())).toEqual([3_000])

        yield* TestClock.adjust(Duration.millis(2_999))
        yield* realSleep(50)
        expect(sim.callsOf("sendMessage")).toHaveLength(1)
        expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)

        yield* TestClock.adjust(Duration.millis(1))
        const messageId = yield* Fiber.join(fiber)
        expect(sim.callsOf("sendMessage").map((c) => c.outcome.ok)).toEqual([false, true])
        expect(sim.chatHistory(user.id).at(-1)?.message.message_id).toBe(messageId)
      })
    ))

  it.scoped("returns a long flood wait to the caller instead of sleeping through it", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5003, first_name: "Cy" })
        const gateway = yield* gatewayFor(sim)
        sim.injectFault({ kind: "retry_after", retryAfter: 600, method: "sendMessage" })
        const error = yield* Effect.flip(driveOne(gateway.sendMessage(user.id, "hello")))
        expect(error).toMatchObject({ _tag: "TelegramTransientError", reason: "RateLimited", retryAfterSeconds: 600 })
        expect(sim.callsOf("sendMessage")).toHaveLength(1)
      })
    ))

  it.scoped("retries 5xx with backoff until success, and gives up after the bound", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5004, first_name: "Dee" })
        const gateway = yield* gatewayFor(sim)
        const clock = callClock(sim)

        sim.injectFault({ kind: "server_error", status: 502, method: "sendMessage", times: 2 })
        const [ok] = yield* drive([gateway.sendMessage(user.id, "first")], clock.atRest)
        expect(Exit.isSuccess(ok!)).toBe(true)
        const first = sim.callsOf("sendMessage")
        expect(first.map((c) => c.outcome.ok)).toEqual([false, false, true])
        expect(first.map((c) => clock.timeOf(c.seq))).toEqual([0, 500, 1_500])

        const start = sim.calls.last
        sim.injectFault({ kind: "server_error", method: "sendMessage" })
        const error = yield* Effect.flip(driveOne(gateway.sendMessage(user.id, "second")))
        expect(error).toMatchObject({ _tag: "TelegramTransientError", reason: "ServerError" })
        expect(sim.calls.all().filter((c) => c.seq > start)).toHaveLength(4)
      })
    ))

  it.scoped("fails at once with BlockedByUser on a 403, without retrying", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5005, first_name: "Eve" })
        const gateway = yield* gatewayFor(sim)
        sim.injectFault({ kind: "blocked", chatId: user.id })
        const error = yield* Effect.flip(driveOne(gateway.sendMessage(user.id, "hello")))
        expect(error).toMatchObject({ _tag: "TelegramPermanentError", reason: "BlockedByUser", errorCode: 403 })
        expect(sim.calls.all()).toHaveLength(1)

        const missing = yield* Effect.flip(driveOne(gateway.sendMessage(999_999, "anyone?")))
        expect(missing).toMatchObject({ _tag: "TelegramPermanentError", reason: "ChatNotFound" })
      })
    ))

  it.scoped("sends a small video by URL, uploads a 25 MB one, and links a 60 MB one", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5006, first_name: "Fay" })
        const gateway = yield* gatewayFor(sim)
        const host = yield* fileHost({
          "small.mp4": { size: MB },
          "medium.mp4": { size: 25 * MB },
          "huge.mp4": { size: 60 * MB },
          "refused.mp4": { size: 2 * MB, failFirstGets: 1 },
          "unsized.mp4": { size: 3 * MB, contentLength: false }
        })

        const small = yield* driveOne(gateway.sendVideo(user.id, videoOf(`${host.url}/small.mp4`)))
        expect(small).toMatchObject({ _tag: "Sent", fileId: expect.any(String) })
        const byUrl = sim.callsOf("sendVideo").at(-1)!
        expect(byUrl.params["video"]).toBe(`${host.url}/small.mp4`)
        expect(byUrl.params["reply_markup"]).toMatchObject({ inline_keyboard: [[{ callback_data: "again:1" }]] })
        expect(host.requests.filter((r) => r === "GET /small.mp4")).toHaveLength(1) // Telegram's, not ours

        const medium = yield* driveOne(gateway.sendVideo(user.id, videoOf(`${host.url}/medium.mp4`)))
        expect(medium).toMatchObject({ _tag: "Sent" })
        expect(sim.callsOf("sendVideo").at(-1)!.params["video"]).toMatchObject({ upload: true, size: 25 * MB })

        const huge = yield* driveOne(gateway.sendVideo(user.id, videoOf(`${host.url}/huge.mp4`)))
        expect(huge).toMatchObject({ _tag: "SentAsLink", sizeBytes: 60 * MB })
        const link = sim.chatHistory(user.id).at(-1)!.message
        expect(link.text).toBe(`Too big for Telegram (60 MB): ${host.url}/huge.mp4`)
        expect(link.message_id).toBe(huge.messageId)
        expect(host.requests.filter((r) => r.endsWith("/huge.mp4"))).toEqual(["HEAD /huge.mp4"])

        // Telegram cannot fetch it (the host failed its GET): the gateway uploads the bytes.
        const refused = yield* driveOne(gateway.sendVideo(user.id, videoOf(`${host.url}/refused.mp4`)))
        expect(refused).toMatchObject({ _tag: "Sent" })
        const attempts = sim.callsOf("sendVideo").slice(-2)
        expect(attempts[0]!.outcome).toMatchObject({ ok: false, description: "Bad Request: failed to get HTTP URL content" })
        expect(attempts[1]!.params["video"]).toMatchObject({ upload: true, size: 2 * MB })

        // No Content-Length on HEAD: the ranged GET is not honoured either, so Telegram decides.
        const unsized = yield* driveOne(gateway.sendVideo(user.id, videoOf(`${host.url}/unsized.mp4`)))
        expect(unsized).toMatchObject({ _tag: "Sent" })
      })
    ), 60_000)

  it.scoped("videos Telegram will not fetch are downloaded and uploaded under the runner's transfer permits", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const gateway = yield* gatewayFor(sim, {}, inProcessLimits(), 1)
        // Telegram's own fetch of each fails, so the gateway sends the bytes; its GETs are slow.
        const names = ["a.mp4", "b.mp4", "c.mp4"]
        const users = names.map((_, i) => sim.createUser({ id: 5012 + i, first_name: "Lou" }))
        const host = yield* fileHost(Object.fromEntries(names.map((name) => [name, { size: MB, failFirstGets: 1, delayMs: 300 }])))
        const fibers = yield* Effect.forEach(names, (name, i) => Effect.fork(gateway.sendVideo(users[i]!.id, videoOf(`${host.url}/${name}`))))
        // A fiber waiting for a permit is not asleep, so `drive` would wait for it for ever
        // while the holder sleeps on the limiter's clock: the clock is moved by hand instead.
        while ((yield* Effect.forEach(fibers, Fiber.poll)).some(Option.isNone)) {
          yield* TestClock.adjust("100 millis")
          yield* realSleep(5)
        }
        const sent = yield* Effect.forEach(fibers, Fiber.await)
        expect(sent.map((exit) => Exit.isSuccess(exit) && exit.value._tag)).toEqual(["Sent", "Sent", "Sent"])
        expect(sim.callsOf("sendVideo").filter((call) => call.outcome.ok).map((call) => call.params["video"]))
          .toEqual(names.map(() => expect.objectContaining({ upload: true, size: MB })))
        expect(host.gets.peak).toBe(1)
      })
    ))

  it.scoped("gives up on a video download that outlasts the download timeout, as a transient Timeout", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5011, first_name: "Kit" })
        const gateway = yield* gatewayFor(sim, { downloadTimeout: Duration.millis(150) })
        const host = yield* fileHost({ "stuck.mp4": { size: 25 * MB, hangGets: true } })
        const error = yield* Effect.flip(driveOne(gateway.sendVideo(user.id, videoOf(`${host.url}/stuck.mp4`))))
        expect(error).toMatchObject({ _tag: "TelegramTransientError", reason: "Timeout", method: "sendVideo" })
        expect(host.requests.filter((r) => r === "GET /stuck.mp4")).toHaveLength(4)
        expect(sim.callsOf("sendVideo")).toHaveLength(0)
      })
    ))

  it.scoped("downloads a photo the user sent, and refuses files over 20 MB", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5007, first_name: "Gus" })
        const gateway = yield* gatewayFor(sim)
        const photo = user.sendPhoto(jpeg, { caption: "make it move" }).message.photo!.at(-1)!
        const file = yield* driveOne(gateway.downloadFile(photo.file_id))
        expect(Buffer.from(file.bytes).equals(jpeg)).toBe(true)
        expect(file.mimeType).toBe("image/jpeg")
        expect(file.fileName).toMatch(/^file_\d+\.jpg$/)

        const big = user.sendDocument(Buffer.alloc(20 * MB + 1), { fileName: "big.png", mimeType: "image/png" })
        const start = sim.calls.last
        const error = yield* Effect.flip(driveOne(gateway.downloadFile(big.message.document!.file_id)))
        expect(error).toMatchObject({ _tag: "TelegramPermanentError", reason: "FileTooBig" })
        expect(sim.calls.all().filter((c) => c.seq > start)).toHaveLength(1)
      })
    ))

  it.scoped("the per-chat limit delays messages beyond the burst instead of dropping them", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5008, first_name: "Hal" })
        const gateway = yield* gatewayFor(sim)
        const clock = callClock(sim)
        const exits = yield* drive(
          Array.from({ length: 6 }, (_, i) => gateway.sendMessage(user.id, `update ${i}`)),
          clock.atRest
        )
        expect(exits.every(Exit.isSuccess)).toBe(true)
        const sends = sim.callsOf("sendMessage")
        expect(sends.every((c) => c.outcome.ok)).toBe(true)
        // A burst of three, then one a second.
        expect(sends.map((c) => clock.timeOf(c.seq))).toEqual([0, 0, 0, 1_000, 2_000, 3_000])
      })
    ))

  it.scoped("two gateways sharing Redis never exceed the global limit in any second", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const prefix = `test:tg-rl:${Date.now()}:${Math.random().toString(36).slice(2)}:`
        yield* redisUnderPrefix(prefix, redisUrl)
        const redisLimiter = () => redisLimits({ url: redisUrl, prefix })
        const limit = 10
        const runnerA = yield* gatewayFor(sim, { limits: { globalPerSecond: limit } }, redisLimiter())
        const runnerB = yield* gatewayFor(sim, { limits: { globalPerSecond: limit } }, redisLimiter())
        const users = Array.from({ length: 40 }, (_, i) => sim.createUser({ id: 6000 + i, first_name: `U${i}` }))
        const clock = callClock(sim)
        const exits = yield* drive(
          users.map((user, i) => (i % 2 === 0 ? runnerA : runnerB).sendMessage(user.id, "your video is ready")),
          clock.atRest
        )
        expect(exits.every(Exit.isSuccess)).toBe(true)
        const times = sim.callsOf("sendMessage").map((c) => clock.timeOf(c.seq)).sort((a, b) => a - b)
        expect(times).toHaveLength(40)
        let busiest = 0
        for (let i = 0, j = 0; i < times.length; i++) {
          while (j < times.length && times[j]! < times[i]! + 1_000) j++
          busiest = Math.max(busiest, j - i)
        }
        expect(busiest).toBeLessThanOrEqual(limit)
        // Not trivially safe: the queue keeps the bot near the limit.
        expect(busiest).toBeGreaterThanOrEqual(limit - 2)
      })
    ), 30_000)

  it.scoped("answers go ahead of videos for the global budget, oldest request first, and are skipped when no longer wanted; a video waiting longer than the lead goes first", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const limit = 5
        const gateway = yield* gatewayFor(sim, { limits: { globalPerSecond: limit, answerLead: "3 seconds" } })
        const videoUsers = Array.from({ length: 12 }, (_, i) => sim.createUser({ id: 7000 + i, first_name: `V${i}` }))
        const answerUsers = Array.from({ length: 9 }, (_, i) => sim.createUser({ id: 7100 + i, first_name: `Q${i}` }))
        const lateUsers = Array.from({ length: 3 }, (_, i) => sim.createUser({ id: 7200 + i, first_name: `L${i}` }))
        const clock = callClock(sim)
        let unwantedAsked = 0
        // A backlog of videos first: the first takes the free slot, the others wait in line.
        const videos = yield* Effect.forEach(videoUsers, (user) => Effect.fork(gateway.sendMessage(user.id, "your video")))
        yield* eventually(
          Effect.map(TestClock.sleeps(), (sleeps) => sleeps.length >= 1 && sim.callsOf("sendMessage").length >= 1)
        )
        const backlogStart = sim.calls.last
        // Answers to photos that came after those videos were queued; the youngest photo's first.
        const now = yield* Clock.currentTimeMillis
        const answers = yield* Effect.forEach(answerUsers, (user, i) =>
          Effect.fork(gateway.sendProgressMessage(user.id, `queued ${i}`, {
            askedAtMs: now - i,
            // The oldest one's outcome overtook it while it waited.
            stillWanted: Effect.sync(() => {
              if (i < answerUsers.length - 1) return true
              unwantedAsked++
              return false
            })
          })))
        const all: Array<Fiber.Fiber<unknown, unknown>> = [...videos, ...answers]
        let late: ReadonlyArray<Fiber.Fiber<unknown, unknown>> = []
        // Waiting messages block on the runner's line (not a sleep), so time moves on once
        // the simulator and the sleep queue have stayed still a while.
        let quiet = 0
        let before = ""
        while (true) {
          const exits = yield* Effect.forEach(all, Fiber.poll)
          const at = yield* Clock.currentTimeMillis
          clock.atRest(at)
          // Answers to photos 4 s younger than the videos: the videos waited longer than the lead.
          if (late.length === 0 && at >= now + 4_000) {
            late = yield* Effect.forEach(lateUsers, (user) => Effect.fork(gateway.sendMessage(user.id, "late answer", { priority: "answer" })))
            all.push(...late)
            continue
          }
          if (exits.every(Option.isSome) && late.length > 0) break
          const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
          const state = `${sim.calls.all().length}:${sleeps.join(",")}`
          quiet = state === before ? quiet + 1 : 0
          before = state
          if (quiet >= 5 && sleeps.length > 0) {
            yield* TestClock.setTime(Math.min(...sleeps))
            quiet = 0
          } else {
            yield* realSleep(2)
          }
        }
        const results = yield* Effect.forEach(answers, Fiber.join)
        expect(results.slice(0, -1).every(Option.isSome)).toBe(true)
        expect(results.at(-1)).toEqual(Option.none())
        expect(unwantedAsked).toBe(1)

        const sends = sim.callsOf("sendMessage")
        const after = (call: { readonly seq: number }) => call.seq > backlogStart
        const videoSends = sends.filter((c) => c.params.text === "your video")
        const answerSends = sends.filter((c) => String(c.params.text).startsWith("queued"))
        expect(videoSends).toHaveLength(12)
        // The unwanted one was never posted; the others went out oldest photo first, but for
        // the few in line that look for a slot together.
        const order = answerSends.map((c) => Number(String(c.params.text).split(" ")[1]))
        expect([...order].sort((a, b) => b - a)).toEqual([7, 6, 5, 4, 3, 2, 1, 0])
        order.forEach((answer, i) => expect(order.slice(0, i).filter((earlier) => earlier < answer).length).toBeLessThan(slotSeekers))
        // Every video still waiting when the answers came went out after them, but those
        // already looking for a slot (nobody can pass them).
        const lastAnswer = Math.max(...answerSends.map((c) => c.seq))
        expect(videoSends.filter((c) => after(c) && c.seq < lastAnswer).length).toBeLessThanOrEqual(slotSeekers)
        expect(videoSends.filter((c) => c.seq > lastAnswer).length).toBeGreaterThanOrEqual(1)
        // The late answers came after the videos had waited more than the lead: the videos
        // still waiting went first, but for those looking for a slot beside the answers.
        const lateSends = sends.filter((c) => c.params.text === "late answer")
        expect(lateSends).toHaveLength(3)
        const firstLate = Math.min(...lateSends.map((c) => c.seq))
        expect(videoSends.filter((c) => c.seq > firstLate).length).toBeLessThan(slotSeekers)
        const times = sends.map((c) => clock.timeOf(c.seq)).sort((a, b) => a - b)
        for (const from of times) {
          expect(times.filter((t) => t >= from && t < from + 1_000).length).toBeLessThanOrEqual(limit)
        }
      })
    ))

  it.scoped("broadcast sends take only spare budget: videos arriving behind a campaign go first, and the campaign keeps to its cap", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const gateway = yield* gatewayFor(sim, { limits: { globalPerSecond: 10, bulkPerSecond: 6 } })
        const audience = Array.from({ length: 24 }, (_, i) => sim.createUser({ id: 7300 + i, first_name: `B${i}` }))
        const videoUsers = Array.from({ length: 4 }, (_, i) => sim.createUser({ id: 7200 + i, first_name: `V${i}` }))
        const clock = callClock(sim)
        const content = { kind: "text", body: "big news", entitiesJson: "[]", fileId: undefined, buttons: [] } as const
        const campaign = yield* Effect.forEach(audience, (user) => Effect.fork(gateway.sendBroadcast(user.id, content)))
        yield* eventually(Effect.sync(() => sim.callsOf("sendMessage").length >= 1))
        const backlogStart = sim.calls.last
        const videos = yield* Effect.forEach(videoUsers, (user) => Effect.fork(gateway.sendMessage(user.id, "your video")))
        const all: ReadonlyArray<Fiber.Fiber<unknown, unknown>> = [...campaign, ...videos]
        while (true) {
          const exits = yield* Effect.forEach(all, Fiber.poll)
          clock.atRest(yield* Clock.currentTimeMillis)
          if (exits.every(Option.isSome)) break
          yield* realSleep(2)
          yield* TestClock.adjust("20 millis")
        }
        const sends = sim.callsOf("sendMessage")
        const timesOf = (text: string, after = 0) =>
          sends.filter((c) => c.params.text === text && c.seq > after).map((c) => clock.timeOf(c.seq))
        const videoTimes = timesOf("your video")
        expect(videoTimes).toHaveLength(4)
        expect(timesOf("big news")).toHaveLength(24)
        // Broadcast sends booked after the videos arrived go out after them.
        expect(Math.min(...timesOf("big news", backlogStart + 4))).toBeGreaterThanOrEqual(Math.max(...videoTimes))
        // Within one second: at most the cap for the campaign, at most the global limit in all.
        const campaignTimes = timesOf("big news")
        const times = [...videoTimes, ...campaignTimes].sort((a, b) => a - b)
        for (const from of times) {
          expect(campaignTimes.filter((t) => t >= from && t < from + 1_000).length).toBeLessThanOrEqual(6)
          expect(times.filter((t) => t >= from && t < from + 1_000).length).toBeLessThanOrEqual(10)
        }
      })
    ))

  it.scoped("no error or log line carries the bot token", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const lines: Array<string> = []
        const capture = Logger.replace(
          Logger.defaultLogger,
          Logger.make((options) => {
            lines.push(Logger.logfmtLogger.log(options))
            lines.push(Logger.jsonLogger.log(options))
          })
        )
        const user = sim.createUser({ id: 5009, first_name: "Ivy" })
        const gateway = yield* gatewayFor(sim)
        const photo = user.sendPhoto(jpeg).message.photo!.at(-1)!
        const unreachable = yield* gatewayFor(sim, { apiRoot: "http://127.0.0.1:9" })
        const wrongToken = yield* gatewayFor(sim, { token: Redacted.make(`${sim.token}x`) })
        sim.injectFault({ kind: "server_error", method: "getFile", times: 1 })
        sim.injectFault({ kind: "retry_after", retryAfter: 1, method: "editMessageText", times: 1 })

        const outcomes = yield* drive([
          gateway.downloadFile(photo.file_id),
          gateway.downloadFile("AgACnotafile"),
          gateway.editMessageText(user.id, 424242, "nope"),
          unreachable.downloadFile(photo.file_id),
          unreachable.sendMessage(user.id, "hello"),
          wrongToken.sendMessage(user.id, "hello"),
          gateway.sendVideo(user.id, videoOf("http://127.0.0.1:9/video.mp4"))
        ].map((effect) => effect.pipe(Effect.asVoid, Effect.tapErrorCause(Effect.logError)))).pipe(
          Effect.provide(capture),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
        const failures = outcomes.filter(Exit.isFailure)
        expect(failures.length).toBeGreaterThanOrEqual(5)
        expect(lines.length).toBeGreaterThan(0)
        const texts = [
          ...lines,
          ...failures.flatMap((exit) => {
            const errors = List.fromIterable(Cause.failures(exit.cause))
            return [Cause.pretty(exit.cause), ...[...errors].flatMap((e) => [e.message, String(e), JSON.stringify(e)])]
          })
        ]
        const secret = sim.token.split(":")[1]!
        expect(texts.filter((text) => text.includes(secret))).toEqual([])
        expect(lines.some((line) => line.includes("Telegram call failed"))).toBe(true)
      })
    ), 30_000)

  it.scoped("TelegramGatewayLive on TelegramApiLive reads the token and API root from AppConfig, and names the variable when it is missing", () =>
    scenario((sim) =>
      Effect.gen(function*() {
        const user = sim.createUser({ id: 5010, first_name: "Jo" })
        const configFrom = (env: Record<string, string>) => Layer.effect(AppConfig, AppConfig.fromEnv(env))
        const gateway = yield* Layer.build(
          TelegramGatewayLive.pipe(
            Layer.provide(TransferPermits.layerWith(8)),
            Layer.provideMerge(TelegramApiLive),
            Layer.provide(configFrom({
              TELEGRAM_BOT_TOKEN: sim.token,
              TELEGRAM_API_ROOT: sim.url,
              KIE_API_KEY: "unused",
              PAYMENTS_SECRET: "unused"
            }))
          )
        ).pipe(Effect.map(Context.get(TelegramGateway)))
        yield* driveOne(gateway.sendMessage(user.id, "from config"))
        expect(sim.chatHistory(user.id).at(-1)?.message.text).toBe("from config")

        const missing = yield* Effect.flip(Layer.build(TelegramGatewayLive.pipe(
          Layer.provide(TransferPermits.layerWith(8)),
          Layer.provideMerge(TelegramApiLive),
          Layer.provide(configFrom({}))
        )))
        expect(describeConfigError(missing)).toContain("TELEGRAM_BOT_TOKEN must be set")
      })
    ))
})
