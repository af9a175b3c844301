/**
 * The HTTP front of the simulator: `/bot<token>/<method>` runs a Bot API call through
 * token check → method lookup → body decoding → spec validation → faults → the method, and
 * records it; `/file/bot<token>/<file_path>` serves file bytes. A webhook response that carries
 * a method (webhook reply) goes through the same pipeline.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { ApiError, notFound, unauthorized } from "./api-error.js"
import { type CallContext, runMethod, targetChat, type World } from "./bot-methods.js"
import type { CallLog } from "./call-log.js"
import { ConnectionReset, type Faults } from "./faults.js"
import type { FileDownloads } from "./files.js"
import type { FloodControl } from "./flood-control.js"
import { type DecodedRequest, decodeRequest, readBody } from "./http-body.js"
import { limits } from "./media.js"
import type { BotApiSpec } from "./spec-validation.js"

export interface Pipeline {
  readonly world: World
  readonly spec: BotApiSpec
  readonly token: string
  readonly log: CallLog
  readonly faults: Faults
  readonly flood: FloodControl | undefined
  readonly downloads: FileDownloads
  /** The `/sim/` control API, when the simulator offers one. */
  readonly control?: (method: string, url: URL, body: Record<string, unknown>) => Promise<{ status: number; body: unknown }>
}

interface Answer {
  readonly status: number
  readonly body: Record<string, unknown>
  /** Close the connection without answering (an injected `reset` fault). */
  readonly reset?: boolean
}

/** Runs one Bot API call and records it; never throws. */
export const dispatch = async (
  pipeline: Pipeline,
  methodName: string,
  request: () => Promise<DecodedRequest>,
  context: CallContext
): Promise<Answer> => {
  const method = pipeline.spec.method(methodName)
  const name = method?.name ?? methodName
  let params: Record<string, unknown> = {}
  let fault = false
  try {
    if (method === undefined) throw notFound()
    const decoded = await request()
    params = decoded.params
    params = pipeline.spec.validate(method, decoded)
    let chatId: number | undefined
    try {
      chatId = targetChat(pipeline.world, params)
    } catch {
      chatId = undefined
    }
    const injected = await pipeline.faults.apply(name, chatId)
    if (injected instanceof ConnectionReset) {
      pipeline.log.record(name, params, { ok: false, error_code: 0, description: injected.description }, true)
      return { status: 0, body: {}, reset: true }
    }
    if (injected !== undefined) {
      fault = true
      throw injected
    }
    const limited = pipeline.flood?.check(name, chatId)
    if (limited !== undefined) throw limited
    const result = await runMethod(pipeline.world, method, params, context)
    pipeline.log.record(name, params, { ok: true, result }, false)
    return { status: 200, body: { ok: true, result } }
  } catch (error) {
    const apiError = error instanceof ApiError ? error : new ApiError(500, "Internal Server Error")
    if (!(error instanceof ApiError)) console.error("telegram simulator: method failed", error)
    pipeline.log.record(name, params, { ok: false, error_code: apiError.code, description: apiError.description }, fault)
    return { status: apiError.code, body: apiError.toJSON() }
  }
}

const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const handle = async (pipeline: Pipeline, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1")
  const api = /^\/bot([^/]+)\/([^/]+)\/?$/.exec(url.pathname)
  if (api !== null) {
    const [, token, method] = api
    if (decodeURIComponent(token!) !== pipeline.token) {
      req.resume()
      return sendJson(res, 401, unauthorized().toJSON())
    }
    const cancelled = new Promise<void>((resolve) => res.on("close", () => resolve()))
    const answer = await dispatch(
      pipeline,
      decodeURIComponent(method!),
      async () => decodeRequest(url, req.headers["content-type"], await readBody(req)),
      { cancelled }
    )
    if (answer.reset === true) return void req.socket.destroy()
    if (!res.writableEnded && !res.destroyed) sendJson(res, answer.status, answer.body)
    return
  }
  const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname)
  if (file !== null) {
    req.resume()
    if (decodeURIComponent(file[1]!) !== pipeline.token) return sendJson(res, 401, unauthorized().toJSON())
    const stored = pipeline.world.files.getByPath(decodeURIComponent(file[2]!))
    if (stored === undefined || !stored.retained || stored.size > limits.getFile) return sendJson(res, 404, notFound().toJSON())
    const hungUp = new Promise<void>((resolve) => res.once("close", () => !res.writableEnded && resolve()))
    return pipeline.downloads.serve(() => {
      res.writeHead(200, {
        "content-type": stored.mime_type ?? "application/octet-stream",
        "content-length": stored.size
      })
      res.end(stored.bytes)
    }, hungUp)
  }
  if (pipeline.control !== undefined && /^\/sim(\/|$)/.test(url.pathname)) {
    try {
      const raw = await readBody(req)
      const body = raw.length === 0 ? {} : (JSON.parse(raw.toString("utf8")) as Record<string, unknown>)
      const answer = await pipeline.control(req.method ?? "GET", url, body)
      return sendJson(res, answer.status, answer.body)
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(400, `Bad Request: ${String(error instanceof Error ? error.message : error)}`)
      return sendJson(res, apiError.code, apiError.toJSON())
    }
  }
  req.resume()
  sendJson(res, 404, notFound().toJSON())
}

export interface RunningServer {
  readonly url: string
  close(): Promise<void>
}

export const listen = (pipeline: Pipeline, host: string, port: number): Promise<RunningServer> =>
  new Promise((resolve, reject) => {
    const server: Server = createServer((req, res) => {
      handle(pipeline, req, res).catch((error: unknown) => {
        console.error("telegram simulator: request failed", error)
        if (!res.headersSent) sendJson(res, 500, new ApiError(500, "Internal Server Error").toJSON())
        else res.destroy()
      })
    })
    // Node's default keep-alive of 5 s, as the KIE simulator has: clients keep their connections
    // as they would Telegram's. At 1 s the `Keep-Alive: timeout=1` hint fell within the margin
    // Node's agent (1 s) and undici (2 s) leave before a server's timeout, so neither reused a
    // connection: every Bot API call and file download opened one (BENCHMARKS.md, 2026-12-07).
    server.once("error", reject)
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo
      const shownHost = host.includes(":") ? `[${host}]` : host
      resolve({
        url: `http://${shownHost}:${address.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })
