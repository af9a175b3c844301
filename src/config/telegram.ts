/** How the bot reaches Telegram and how Telegram reaches the bot. */
import { Config } from "effect"
import { httpUrl, literal, optionalRedacted } from "./parsers.js"

export const telegramSettings = Config.all({
  /** Unset (with KIE_API_KEY unset too): the sandbox (src/sim/sandbox.ts). */
  botToken: optionalRedacted("TELEGRAM_BOT_TOKEN"),
  apiRoot: httpUrl("TELEGRAM_API_ROOT", "https://api.telegram.org"),
  mode: literal("TELEGRAM_MODE", ["polling", "webhook"], "polling"),
  // Telegram's rule for setWebhook's secret_token: anything else is refused on every attempt.
  webhookSecret: optionalRedacted(
    "TELEGRAM_WEBHOOK_SECRET",
    (secret) => /^[A-Za-z0-9_-]{1,256}$/.test(secret) ? undefined : "1 to 256 characters of A-Z, a-z, 0-9, _ and -"
  )
})

export type TelegramSettings = Config.Config.Success<typeof telegramSettings>
