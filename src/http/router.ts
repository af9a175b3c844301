/**
 * The runner's one HTTP server. Features add their routes with `AppRouter.use(...)` in
 * their own modules (health here; KIE callbacks, the Telegram webhook and metrics beside
 * their features); the composition root serves them all on HTTP_HOST:HTTP_PORT.
 */
import { HttpMiddleware, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { HttpRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { createServer } from "node:http"
import { AppConfig } from "../config/index.js"

export class AppRouter extends HttpRouter.Tag("app/AppRouter")<AppRouter>() {}

/**
 * The largest request body any route reads. Telegram updates and KIE callbacks are a few
 * kilobytes; the platform's own default (10 MiB per request, held in memory) would let a
 * few concurrent requests cost a runner hundreds of megabytes.
 */
export const maxBodyBytes = 1024 * 1024

export const bodyTooLarge = () =>
  HttpServerResponse.text(`request body larger than ${maxBodyBytes} bytes`, { status: 413 })

/**
 * A declared length over the cap is refused before any byte is read, on every route; a
 * chunked body is cut off at the cap when a route reads it (the route answers 413).
 */
export const limitBodySize = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const declared = Number(request.headers["content-length"] ?? "0")
    if (!Number.isFinite(declared) || declared > maxBodyBytes) return bodyTooLarge()
    return yield* HttpServerRequest.withMaxBodySize(app, Option.some(maxBodyBytes))
  })
)

export const HttpServerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    AppRouter.serve(limitBodySize).pipe(
      HttpServer.withLogAddress,
      Layer.provide(NodeHttpServer.layer(createServer, { port: config.httpPort, host: config.httpHost }))
    )
  )
)
