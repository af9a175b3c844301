/**
 * Decoding of Bot API requests: query string, JSON, x-www-form-urlencoded and multipart/form-data,
 * the four encodings the real server accepts. Multipart parts with a filename are uploads, kept as
 * bytes and referenced by name (grammY sends `video=attach://<id>` plus a part named `<id>`).
 */
import type { IncomingMessage } from "node:http"
import { ApiError, badRequest } from "./api-error.js"

export interface UploadedFile {
  readonly _tag: "UploadedFile"
  readonly field: string
  readonly filename: string
  readonly contentType: string
  readonly bytes: Buffer
}

export interface DecodedRequest {
  /** Field name → value: strings from forms and queries, any JSON value from JSON bodies. */
  readonly params: Record<string, unknown>
  /** Uploads by part name. */
  readonly uploads: ReadonlyMap<string, UploadedFile>
}

export const isUploadedFile = (u: unknown): u is UploadedFile =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "UploadedFile"

/** Upper bound on a request body; the upload limits of the methods are checked later. */
const MAX_BODY_BYTES = 64 * 1024 * 1024

export const readBody = (req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let rejected = false
    req.on("data", (chunk: Buffer) => {
      if (rejected) return
      size += chunk.length
      if (size > limit) {
        rejected = true
        reject(new ApiError(413, "Request Entity Too Large"))
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => {
      if (!rejected) resolve(Buffer.concat(chunks))
    })
    req.on("error", (error) => {
      if (!rejected) reject(error)
    })
  })

export const decodeRequest = (url: URL, contentType: string | undefined, body: Buffer): DecodedRequest => {
  const params: Record<string, unknown> = {}
  for (const [key, value] of url.searchParams) params[key] = value
  const uploads = new Map<string, UploadedFile>()
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase()
  if (body.length === 0) return { params, uploads }

  if (type === "application/json") {
    let parsed: unknown
    try {
      parsed = JSON.parse(body.toString("utf8"))
    } catch {
      throw badRequest("can't parse JSON request body")
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw badRequest("the request body must be a JSON object")
    }
    Object.assign(params, parsed)
  } else if (type === "application/x-www-form-urlencoded") {
    for (const [key, value] of new URLSearchParams(body.toString("utf8"))) params[key] = value
  } else if (type === "multipart/form-data") {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? "")
    const boundaryValue = boundary?.[1] ?? boundary?.[2]
    if (boundaryValue === undefined) throw badRequest("multipart boundary is missing")
    for (const part of parseMultipart(body, boundaryValue.trim())) {
      if (part.filename === undefined) {
        params[part.name] = part.body.toString("utf8")
      } else {
        uploads.set(part.name, {
          _tag: "UploadedFile",
          field: part.name,
          filename: part.filename,
          contentType: part.contentType ?? "application/octet-stream",
          bytes: part.body
        })
      }
    }
  }
  return { params, uploads }
}

interface MultipartPart {
  readonly name: string
  readonly filename: string | undefined
  readonly contentType: string | undefined
  readonly body: Buffer
}

const CRLF = Buffer.from("\r\n")
const HEADER_END = Buffer.from("\r\n\r\n")

/** A small multipart/form-data parser (RFC 7578), tolerant of grammY's compact header style. */
export const parseMultipart = (body: Buffer, boundary: string): Array<MultipartPart> => {
  const delimiter = Buffer.from(`--${boundary}`)
  const parts: Array<MultipartPart> = []
  let position = body.indexOf(delimiter)
  if (position < 0) throw badRequest("can't parse multipart body")
  while (true) {
    position += delimiter.length
    if (body.subarray(position, position + 2).toString() === "--") break
    if (body.subarray(position, position + 2).equals(CRLF)) position += 2
    const headerEnd = body.indexOf(HEADER_END, position)
    if (headerEnd < 0) throw badRequest("can't parse multipart body")
    const headers = parsePartHeaders(body.subarray(position, headerEnd).toString("utf8"))
    const contentStart = headerEnd + HEADER_END.length
    const next = body.indexOf(Buffer.concat([CRLF, delimiter]), contentStart)
    if (next < 0) throw badRequest("can't parse multipart body")
    const disposition = headers.get("content-disposition") ?? ""
    const name = dispositionParam(disposition, "name")
    if (name !== undefined) {
      parts.push({
        name,
        filename: dispositionParam(disposition, "filename"),
        contentType: headers.get("content-type"),
        body: body.subarray(contentStart, next)
      })
    }
    position = next + CRLF.length
  }
  return parts
}

const parsePartHeaders = (block: string): Map<string, string> => {
  const headers = new Map<string, string>()
  for (const line of block.split("\r\n")) {
    const colon = line.indexOf(":")
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  return headers
}

const dispositionParam = (disposition: string, key: string): string | undefined => {
  const match = new RegExp(`(?:^|;)\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, "i").exec(disposition)
  if (match === null) return undefined
  return (match[1] ?? match[2] ?? "").trim()
}
