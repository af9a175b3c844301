/**
 * Files known to the simulated Telegram: what users sent and what the bot uploaded. Each has a
 * bot-specific `file_id`, a stable `file_unique_id`, a `file_path` for `/file/bot<token>/<path>`
 * and its bytes in memory.
 */
import { randomToken } from "./ids.js"

export type FileKind = "photo" | "video" | "document" | "sticker" | "voice" | "animation" | "audio" | "video_note"

export interface StoredFile {
  readonly file_id: string
  readonly file_unique_id: string
  readonly file_path: string
  readonly kind: FileKind
  /** Size in bytes, also when the bytes were not retained. */
  readonly size: number
  /** The content; empty when the store was told not to retain it (see `retain`). */
  readonly bytes: Buffer
  readonly retained: boolean
  readonly mime_type: string | undefined
  readonly file_name: string | undefined
}

const layout: Record<FileKind, { prefix: string; folder: string; ext: string }> = {
  photo: { prefix: "AgACAgIAAxkBAAI", folder: "photos", ext: "jpg" },
  video: { prefix: "BAACAgIAAxkBAAI", folder: "videos", ext: "mp4" },
  document: { prefix: "BQACAgIAAxkBAAI", folder: "documents", ext: "dat" },
  sticker: { prefix: "CAACAgIAAxkBAAI", folder: "stickers", ext: "webp" },
  voice: { prefix: "AwACAgIAAxkBAAI", folder: "voice", ext: "oga" },
  animation: { prefix: "CgACAgIAAxkBAAI", folder: "animations", ext: "mp4" },
  audio: { prefix: "CQACAgIAAxkBAAI", folder: "music", ext: "mp3" },
  video_note: { prefix: "DQACAgIAAxkBAAI", folder: "video_notes", ext: "mp4" }
}

/**
 * The bot's downloads from `/file/bot<token>/<path>`: how many are served at once (the
 * busiest moment too) and how slow each is, like a slow CDN, when `delayMs` is set; `hold()`
 * keeps every download waiting until the function it returns is called. A download whose
 * client hangs up before its answer (a run interrupted, a timeout) is no longer in flight:
 * it counts in `abandoned`, and a retry of it is a new download.
 */
export class FileDownloads {
  delayMs = 0
  inFlight = 0
  peak = 0
  total = 0
  abandoned = 0
  private held: Promise<void> | undefined

  hold(): () => void {
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    this.held = held
    return () => {
      if (this.held === held) this.held = undefined
      release()
    }
  }

  /** `hungUp` resolves when the client closes its side before the answer is sent. */
  async serve(send: () => void, hungUp: Promise<void>): Promise<void> {
    this.inFlight++
    this.total++
    this.peak = Math.max(this.peak, this.inFlight)
    let gone = false
    const left = hungUp.then(() => {
      if (gone) return
      gone = true
      this.inFlight--
      this.abandoned++
    })
    try {
      if (this.held !== undefined) await Promise.race([this.held, left])
      if (this.delayMs > 0 && !gone) await Promise.race([new Promise((resolve) => setTimeout(resolve, this.delayMs)), left])
      if (!gone) send()
    } finally {
      if (!gone) {
        gone = true
        this.inFlight--
      }
    }
  }
}

export class FileStore {
  private readonly byId = new Map<string, StoredFile>()
  private readonly byPath = new Map<string, StoredFile>()
  private counter = 0

  add(
    kind: FileKind,
    bytes: Buffer,
    meta: { mime_type?: string | undefined; file_name?: string | undefined; retain?: boolean } = {}
  ): StoredFile {
    const retain = meta.retain ?? true
    const n = this.counter++
    const { ext, folder, prefix } = layout[kind]
    const nameExt = meta.file_name?.match(/\.([A-Za-z0-9]{1,8})$/)?.[1]?.toLowerCase()
    const file: StoredFile = {
      file_id: `${prefix}${randomToken(36)}`,
      file_unique_id: `AQAD${randomToken(12)}`,
      file_path: `${folder}/file_${n}.${kind === "document" ? (nameExt ?? ext) : ext}`,
      kind,
      size: bytes.length,
      bytes: retain ? bytes : Buffer.alloc(0),
      retained: retain,
      mime_type: meta.mime_type,
      file_name: meta.file_name
    }
    this.byId.set(file.file_id, file)
    this.byPath.set(file.file_path, file)
    return file
  }

  get(fileId: string): StoredFile | undefined {
    return this.byId.get(fileId)
  }

  getByPath(path: string): StoredFile | undefined {
    return this.byPath.get(path)
  }

  get size(): number {
    return this.byId.size
  }
}
