/** How the bot reaches Telegram and how Telegram reaches the bot. */
import { Config } from "effect"
import { httpUrl, integerIn, literal, optionalRedacted } from "./parsers.js"

export const telegramSettings = Config.all({
  /** Unset (with KIE_API_KEY unset too): the sandbox (src/sim/sandbox.ts). */
  botToken: optionalRedacted("TELEGRAM_BOT_TOKEN"),
  apiRoot: httpUrl("TELEGRAM_API_ROOT", "https://api.telegram.org"),
  mode: literal("TELEGRAM_MODE", ["polling", "webhook"], "polling"),
  // Telegram's rule for setWebhook's secret_token: anything else is refused on every attempt.
  webhookSecret: optionalRedacted(
    "TELEGRAM_WEBHOOK_SECRET",
    (secret) => /^[A-Za-z0-9_-]{1,256}$/.test(secret) ? undefined : "1 to 256 characters of A-Z, a-z, 0-9, _ and -"
  ),
  /**
   * Messages per second across all chats and runners: Telegram's free limit is about 30;
   * more only with paid broadcasts (or against a simulator).
   */
  messagesPerSecond: integerIn("TELEGRAM_MESSAGES_PER_SECOND", 1, 1000, 30),
  /** Of those, what a broadcast may take at most; it takes only what jobs leave spare. */
  broadcastPerSecond: integerIn("BROADCAST_MESSAGES_PER_SECOND", 1, 1000, 20)
})

export type TelegramSettings = Config.Config.Success<typeof telegramSettings>
