/**
 * The one grammY `Api` of the process, built from AppConfig: the gateway, the intake
 * (getUpdates, setWebhook) and the bot's identity (getMe) all call Telegram through it,
 * so the token is unwrapped here and nowhere else.
 */
import { Api } from "grammy"
import { ConfigError, Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import { AppConfig } from "../config/index.js"

export interface TelegramApiOptions {
  /** Bot API root; default https://api.telegram.org. */
  readonly apiRoot?: string | undefined
  /** Per Bot API request, uploads and long polls included (default 120 s). */
  readonly requestTimeout?: Duration.DurationInput | undefined
}

export const makeTelegramApi = (token: Redacted.Redacted<string>, options: TelegramApiOptions = {}): Api =>
  new Api(Redacted.value(token), {
    // grammY throws on a trailing slash; AppConfig already strips it, explicit callers may not.
    apiRoot: (options.apiRoot ?? "https://api.telegram.org").replace(/\/+$/, ""),
    timeoutSeconds: Math.max(1, Math.ceil(Duration.toSeconds(Duration.decode(options.requestTimeout ?? Duration.seconds(120)))))
  })

/** The API root an `Api` was built with (made by `makeTelegramApi`, so always set). */
export const apiRootOf = (api: Api): string => api.options?.apiRoot ?? "https://api.telegram.org"

/** The numeric bot id in front of the token's secret part; names the stored offset. */
export const botIdOf = (api: Api): number => Number(api.token.split(":")[0]) || 0

export class TelegramApi extends Context.Tag("app/TelegramApi")<TelegramApi, Api>() {}

/** From AppConfig; without TELEGRAM_BOT_TOKEN it fails at start-up, naming the variable. */
export const TelegramApiLive: Layer.Layer<TelegramApi, ConfigError.ConfigError, AppConfig> = Layer.effect(
  TelegramApi,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const token = yield* Option.match(config.telegram.botToken, {
      onNone: () =>
        Effect.fail(ConfigError.MissingData(["TELEGRAM_BOT_TOKEN"], "TELEGRAM_BOT_TOKEN must be set for the Telegram bot")),
      onSome: Effect.succeed
    })
    return makeTelegramApi(token, { apiRoot: config.telegram.apiRoot })
  })
)
