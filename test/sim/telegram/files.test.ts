import { Api, InputFile } from "grammy"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { TelegramSimulator } from "../../../src/sim/telegram/index.js"

const MB = 1024 * 1024
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, ...Buffer.from("a tiny fake jpeg"), 0xff, 0xd9])

describe("TelegramSimulator: files and size limits", () => {
  let sim: TelegramSimulator
  let api: Api
  let origin: Server
  let originUrl: string

  beforeAll(async () => {
    // A loopback origin for "send by URL": /small.mp4 (1 MB) and /big.mp4 (21 MB).
    origin = createServer((req, res) => {
      const size = req.url === "/big.mp4" ? 21 * MB : req.url === "/small.mp4" ? MB : -1
      if (size < 0) {
        res.statusCode = 404
        return res.end()
      }
      res.writeHead(200, { "content-type": "video/mp4", "content-length": size })
      res.end(Buffer.alloc(size, 7))
    })
    await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve))
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => origin.close(() => resolve())))

  beforeEach(async () => {
    sim = await new TelegramSimulator().start()
    api = new Api(sim.token, { apiRoot: sim.url })
  })
  afterEach(() => sim.stop())

  it("delivers a user's photo as PhotoSize[] and serves the bytes via getFile and /file/bot<token>/", async () => {
    const user = sim.createUser({ id: 4001, first_name: "Liam" })
    const { message } = user.sendPhoto(jpeg, { caption: "make it dance", width: 1600, height: 1200 })
    expect(message.caption).toBe("make it dance")
    const sizes = message.photo!
    expect(sizes.map((s) => [s.width, s.height])).toEqual([[320, 240], [800, 600], [1280, 960], [1600, 1200]])
    expect(new Set(sizes.map((s) => s.file_id)).size).toBe(4)

    const largest = sizes.at(-1)!
    const file = await api.getFile(largest.file_id)
    expect(file).toMatchObject({ file_id: largest.file_id, file_unique_id: largest.file_unique_id, file_size: jpeg.length })
    expect(file.file_path).toMatch(/^photos\/file_\d+\.jpg$/)

    const download = await fetch(sim.fileUrl(file.file_path!))
    expect(download.status).toBe(200)
    expect(download.headers.get("content-type")).toBe("image/jpeg")
    expect(Buffer.from(await download.arrayBuffer()).equals(jpeg)).toBe(true)

    expect((await fetch(sim.fileUrl("photos/nope.jpg"))).status).toBe(404)
    await expect(api.getFile("AgACnotafile")).rejects.toMatchObject({ error_code: 400, description: "Bad Request: invalid file_id" })
  })

  it("holds downloads while asked, and no longer counts one whose client hung up", async () => {
    const user = sim.createUser({ id: 4002, first_name: "Mia" })
    const file = await api.getFile(user.sendPhoto(jpeg).message.photo!.at(-1)!.file_id)
    const release = sim.fileDownloads.hold()
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
      expect(check()).toBe(true)
    }
    const kept = fetch(sim.fileUrl(file.file_path!))
    const given = new AbortController()
    const gaveUp = fetch(sim.fileUrl(file.file_path!), { signal: given.signal }).catch((error: Error) => error.name)
    await until(() => sim.fileDownloads.inFlight === 2)

    given.abort()
    expect(await gaveUp).toBe("AbortError")
    await until(() => sim.fileDownloads.abandoned === 1)
    expect(sim.fileDownloads.inFlight).toBe(1)

    release()
    expect(Buffer.from(await (await kept).arrayBuffer()).equals(jpeg)).toBe(true)
    expect(sim.fileDownloads).toMatchObject({ inFlight: 0, total: 2, peak: 2, abandoned: 1 })
  })

  it("describes image documents, other documents, stickers, videos and voice notes", async () => {
    const user = sim.createUser({ id: 4002, first_name: "Mia" })
    const image = user.sendDocument(jpeg, { fileName: "portrait.png", mimeType: "image/png", caption: "as file" }).message
    expect(image.document).toMatchObject({ file_name: "portrait.png", mime_type: "image/png", file_size: jpeg.length })
    expect((await api.getFile(image.document!.file_id)).file_path).toMatch(/^documents\/file_\d+\.png$/)
    const pdf = user.sendDocument(Buffer.from("%PDF-1.4"), { fileName: "terms.pdf", mimeType: "application/pdf" }).message
    expect(pdf.document?.mime_type).toBe("application/pdf")
    expect(user.sendSticker({ emoji: "🔥" }).message.sticker).toMatchObject({ emoji: "🔥", type: "regular" })
    expect(user.sendVideo(Buffer.alloc(100), { duration: 3 }).message.video).toMatchObject({ duration: 3, mime_type: "video/mp4" })
    expect(user.sendVoice(Buffer.alloc(50), { duration: 2 }).message.voice).toMatchObject({ duration: 2, mime_type: "audio/ogg" })
    const updates = await api.getUpdates()
    expect(updates.map((u) => Object.keys(u.message!).find((k) => ["document", "sticker", "video", "voice"].includes(k))))
      .toEqual(["document", "document", "sticker", "video", "voice"])
  })

  it("refuses getFile above 20 MB with \"file is too big\"", async () => {
    const user = sim.createUser({ id: 4003, first_name: "Noah" })
    const big = user.sendDocument(Buffer.alloc(20 * MB + 1), { fileName: "big.mp4", mimeType: "video/mp4" }).message
    await expect(api.getFile(big.document!.file_id)).rejects.toMatchObject({
      error_code: 400,
      description: "Bad Request: file is too big"
    })
    const limit = user.sendDocument(Buffer.alloc(20 * MB), { fileName: "ok.mp4" }).message
    expect((await api.getFile(limit.document!.file_id)).file_size).toBe(20 * MB)
  })

  it("uploads a video (multipart) up to 50 MB and refuses larger uploads with 413", async () => {
    sim.createUser({ id: 4004, first_name: "Olga" })
    const sent = await api.sendVideo(4004, new InputFile(Buffer.alloc(2 * MB, 1), "result.mp4"), {
      caption: "Your video",
      supports_streaming: true,
      width: 720,
      height: 1280,
      duration: 5
    })
    expect(sent.video).toMatchObject({ width: 720, height: 1280, duration: 5, file_size: 2 * MB, mime_type: "video/mp4" })
    expect(sim.file(sent.video!.file_id)?.bytes.length).toBe(2 * MB)
    expect(sim.callsOf("sendVideo")[0]!.params["video"]).toEqual({ upload: true, filename: "result.mp4", size: 2 * MB })

    // Re-sending by file_id is free; the type cannot change.
    const again = await api.sendVideo(4004, sent.video!.file_id)
    expect(again.video?.file_unique_id).toBe(sent.video!.file_unique_id)
    await expect(api.sendPhoto(4004, sent.video!.file_id)).rejects.toMatchObject({ description: "Bad Request: type of file mismatch" })
    await expect(api.sendVideo(4004, "BAACnonsense")).rejects.toMatchObject({
      description: "Bad Request: wrong file identifier/HTTP URL specified"
    })

    await expect(api.sendVideo(4004, new InputFile(Buffer.alloc(50 * MB + 1), "huge.mp4"))).rejects.toMatchObject({
      error_code: 413,
      description: "Request Entity Too Large"
    })
  })

  it("downloads a video by URL from loopback up to 20 MB and refuses bigger or remote ones", async () => {
    sim.createUser({ id: 4005, first_name: "Paul" })
    const byUrl = await api.sendVideo(4005, `${originUrl}/small.mp4`)
    expect(byUrl.video?.file_size).toBe(MB)
    const file = await api.getFile(byUrl.video!.file_id)
    expect((await fetch(sim.fileUrl(file.file_path!))).headers.get("content-length")).toBe(String(MB))

    const failed = { error_code: 400, description: "Bad Request: failed to get HTTP URL content" }
    await expect(api.sendVideo(4005, `${originUrl}/big.mp4`)).rejects.toMatchObject(failed)
    await expect(api.sendVideo(4005, `${originUrl}/missing.mp4`)).rejects.toMatchObject(failed)
    await expect(api.sendVideo(4005, "https://example.com/video.mp4")).rejects.toMatchObject(failed)
    expect(sim.sentMessages(4005)).toHaveLength(1)
  })

  it("uploads photos up to 10 MB and returns them in several sizes", async () => {
    sim.createUser({ id: 4006, first_name: "Quinn" })
    const photo = await api.sendPhoto(4006, new InputFile(jpeg, "preview.jpg"))
    expect(photo.photo!.length).toBeGreaterThan(1)
    await expect(api.sendPhoto(4006, new InputFile(Buffer.alloc(10 * MB + 1), "big.jpg"))).rejects.toMatchObject({ error_code: 413 })
  })

  it("can forget the bytes of bot uploads for long benchmarks while keeping their sizes", async () => {
    const lean = await new TelegramSimulator({ retainBotUploads: false }).start()
    try {
      const leanApi = new Api(lean.token, { apiRoot: lean.url })
      lean.createUser({ id: 4007, first_name: "Rae" })
      const sent = await leanApi.sendVideo(4007, new InputFile(Buffer.alloc(3 * MB), "v.mp4"))
      expect(sent.video?.file_size).toBe(3 * MB)
      expect(lean.file(sent.video!.file_id)).toMatchObject({ size: 3 * MB, retained: false })
      expect((await leanApi.sendVideo(4007, sent.video!.file_id)).video?.file_size).toBe(3 * MB)
    } finally {
      await lean.stop()
    }
  })
})
