/** The KIE.AI account, its limits and what the bot may fetch from it. */
import { Config } from "effect"
import { findModel, modelSlugs } from "../kie/models.js"
import { defaultResultHosts } from "../kie/result-url.js"
import { commaSeparated, httpUrl, integerIn, optionalRedacted, parsed } from "./parsers.js"

const model = parsed(
  "KIE_MODEL",
  "kling-2.6/image-to-video",
  `one of ${modelSlugs.join(", ")}`,
  (raw) => findModel(raw.trim()) !== undefined ? raw.trim() : undefined
)

const hostName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/

const resultHosts = parsed(
  "KIE_RESULT_HOSTS",
  defaultResultHosts.join(","),
  "a comma-separated list of host names like aiquickdraw.com",
  (raw) => {
    const hosts = commaSeparated(raw.toLowerCase())
    return hosts.length > 0 && hosts.every((host) => hostName.test(host)) ? hosts : undefined
  }
)

export const kieSettings = Config.all({
  apiKey: optionalRedacted("KIE_API_KEY"),
  baseUrl: httpUrl("KIE_BASE_URL", "https://api.kie.ai"),
  uploadBaseUrl: httpUrl("KIE_UPLOAD_BASE_URL", "https://kieai.redpandaai.co"),
  webhookHmacKey: optionalRedacted("KIE_WEBHOOK_HMAC_KEY"),
  model,
  /** KIE's createTask limit for the whole account, per 10 seconds. */
  rateLimit: integerIn("KIE_RATE_LIMIT", 3, 1000, 20),
  /** Signs the per-job token in callback URLs; shared by all runners. */
  callbackSecret: optionalRedacted("KIE_CALLBACK_SECRET"),
  /** Hosts (and their subdomains) whose https result URLs may be fetched. */
  resultHosts
})

export type KieSettings = Config.Config.Success<typeof kieSettings>
