/** This runner's HTTP server and the address the outside world reaches it at. */
import { integerIn, optionalHttpUrl, plainString } from "./parsers.js"

export const httpHost = plainString("HTTP_HOST", "0.0.0.0")

export const httpPort = integerIn("HTTP_PORT", 0, 65535, 8080)

/** Where KIE callbacks and Telegram webhooks reach this service; unset: polling only. */
export const publicUrl = optionalHttpUrl("PUBLIC_URL")
