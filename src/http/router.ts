/**
 * The runner's one HTTP server. Features add their routes with `AppRouter.use(...)` in
 * their own modules (health here; KIE callbacks, the Telegram webhook and metrics beside
 * their features); the composition root serves them all on HTTP_HOST:HTTP_PORT.
 */
import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { AppConfig } from "../config.js"

export class AppRouter extends HttpRouter.Tag("app/AppRouter")<AppRouter>() {}

export const HttpServerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    AppRouter.serve().pipe(
      HttpServer.withLogAddress,
      Layer.provide(NodeHttpServer.layer(createServer, { port: config.httpPort, host: config.httpHost }))
    )
  )
)
