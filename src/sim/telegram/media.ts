/**
 * Media in messages: turning what the bot passes (an upload, an HTTP URL Telegram must download,
 * or a file_id) into a stored file within Telegram's size limits, and describing stored files as
 * the Bot API objects (PhotoSize[], Video, Document, ...).
 */
import type { Document, PhotoSize, Sticker, Video, Voice } from "grammy/types"
import { badRequest, entityTooLarge } from "./api-error.js"
import type { FileKind, FileStore, StoredFile } from "./files.js"
import { isUploadedFile } from "./http-body.js"

const MB = 1024 * 1024

/** Limits of the hosted Bot API (its docs: getFile, sendVideo). */
export const limits = {
  uploadPhoto: 10 * MB,
  uploadOther: 50 * MB,
  urlPhoto: 5 * MB,
  urlOther: 20 * MB,
  getFile: 20 * MB
} as const

export interface UrlPolicy {
  /** Only loopback URLs are fetched unless this is set (the simulator must not reach the internet). */
  readonly allowNonLoopback: boolean
  /** Keep the bytes of files the bot sends (off for long benchmarks: only sizes are kept). */
  readonly retainBotUploads: boolean
}

export interface ResolvedMedia {
  readonly file: StoredFile
  /** True when the file was new to Telegram (upload or URL), false for a file_id. */
  readonly fresh: boolean
}

const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "[::1]" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host)

export const resolveMedia = async (
  files: FileStore,
  kind: FileKind,
  input: unknown,
  policy: UrlPolicy
): Promise<ResolvedMedia> => {
  if (isUploadedFile(input)) {
    if (input.bytes.length > (kind === "photo" ? limits.uploadPhoto : limits.uploadOther)) throw entityTooLarge()
    const file = files.add(kind, input.bytes, {
      file_name: input.filename,
      mime_type: mimeFor(kind, input.filename, input.contentType),
      retain: policy.retainBotUploads
    })
    return { file, fresh: true }
  }
  if (typeof input !== "string" || input === "") throw badRequest("wrong file identifier/HTTP URL specified")
  if (/^https?:\/\//i.test(input)) {
    const bytes = await download(input, kind === "photo" ? limits.urlPhoto : limits.urlOther, policy)
    const name = new URL(input).pathname.split("/").pop() || undefined
    const file = files.add(kind, bytes.body, {
      file_name: name,
      mime_type: mimeFor(kind, name, bytes.contentType),
      retain: policy.retainBotUploads
    })
    return { file, fresh: true }
  }
  const file = files.get(input)
  if (file === undefined) throw badRequest("wrong file identifier/HTTP URL specified")
  if (file.kind !== kind && !(kind === "document" && file.kind !== "photo" && file.kind !== "sticker")) {
    throw badRequest("type of file mismatch")
  }
  return { file, fresh: false }
}

/** Telegram downloads the URL itself; too big, unreachable or non-2xx all fail the same way. */
const download = async (url: string, limit: number, policy: UrlPolicy): Promise<{ body: Buffer; contentType: string | undefined }> => {
  const failed = badRequest("failed to get HTTP URL content")
  const parsed = new URL(url)
  if (!policy.allowNonLoopback && !isLoopback(parsed.hostname)) throw failed
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(30_000) })
  } catch {
    throw failed
  }
  if (!response.ok || response.body === null) throw failed
  const declared = Number(response.headers.get("content-length") ?? "NaN")
  if (Number.isFinite(declared) && declared > limit) {
    await response.body.cancel()
    throw failed
  }
  const chunks: Array<Buffer> = []
  let size = 0
  for await (const chunk of response.body) {
    size += chunk.length
    if (size > limit) throw failed
    chunks.push(Buffer.from(chunk))
  }
  return { body: Buffer.concat(chunks), contentType: response.headers.get("content-type") ?? undefined }
}

const MIME_BY_EXT: Record<string, string> = {
  jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", gif: "image/gif",
  mp4: "video/mp4", mov: "video/quicktime", webm: "video/webm", pdf: "application/pdf", txt: "text/plain",
  ogg: "audio/ogg", oga: "audio/ogg", mp3: "audio/mpeg", zip: "application/zip"
}

const mimeFor = (kind: FileKind, name: string | undefined, declared: string | undefined): string | undefined => {
  const ext = name?.match(/\.([A-Za-z0-9]+)$/)?.[1]?.toLowerCase()
  if (ext !== undefined && MIME_BY_EXT[ext] !== undefined) return MIME_BY_EXT[ext]
  if (declared !== undefined && declared !== "application/octet-stream") return declared.split(";")[0]
  switch (kind) {
    case "video":
    case "animation":
    case "video_note":
      return "video/mp4"
    case "voice":
      return "audio/ogg"
    case "audio":
      return "audio/mpeg"
    case "photo":
      return "image/jpeg"
    default:
      return declared
  }
}

/**
 * A photo as Telegram delivers it: one PhotoSize per thumbnail size up to the original. The
 * simulator does not resize images, so every size holds the original bytes under its own file_id.
 */
export const photoSizes = (files: FileStore, bytes: Buffer, width: number, height: number): Array<PhotoSize> => {
  const longest = Math.max(width, height)
  const targets = [90, 320, 800, 1280, 2560].filter((t) => t < longest)
  const sides = [...targets, longest].slice(-4)
  return sides.map((side) => {
    const scale = side / longest
    const file = files.add("photo", bytes, { mime_type: "image/jpeg" })
    return {
      file_id: file.file_id,
      file_unique_id: file.file_unique_id,
      width: Math.max(1, Math.round(width * scale)),
      height: Math.max(1, Math.round(height * scale)),
      file_size: bytes.length
    }
  })
}

export const videoObject = (file: StoredFile, meta: { width?: number; height?: number; duration?: number } = {}): Video => ({
  file_id: file.file_id,
  file_unique_id: file.file_unique_id,
  width: meta.width ?? 1280,
  height: meta.height ?? 720,
  duration: meta.duration ?? 5,
  ...(file.file_name === undefined ? {} : { file_name: file.file_name }),
  mime_type: file.mime_type ?? "video/mp4",
  file_size: file.size
})

export const documentObject = (file: StoredFile): Document => ({
  file_id: file.file_id,
  file_unique_id: file.file_unique_id,
  ...(file.file_name === undefined ? {} : { file_name: file.file_name }),
  ...(file.mime_type === undefined ? {} : { mime_type: file.mime_type }),
  file_size: file.size
})

export const voiceObject = (file: StoredFile, duration: number): Voice => ({
  file_id: file.file_id,
  file_unique_id: file.file_unique_id,
  duration,
  mime_type: file.mime_type ?? "audio/ogg",
  file_size: file.size
})

export const stickerObject = (file: StoredFile, emoji: string | undefined): Sticker => ({
  file_id: file.file_id,
  file_unique_id: file.file_unique_id,
  type: "regular",
  width: 512,
  height: 512,
  is_animated: false,
  is_video: false,
  ...(emoji === undefined ? {} : { emoji }),
  file_size: file.size
})
