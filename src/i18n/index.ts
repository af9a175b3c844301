/**
 * The bot's languages. Each locale is one module declared as `Messages` (./messages.ts):
 * a missing text is a compile error, and plurals come from `Intl.PluralRules`
 * (./plural.ts). To add a language, add its module here and one line to `locales`;
 * users whose Telegram language_code starts with its key then read it.
 */
import type { JobFailure } from "../domain/job-failure.js"
import { retryHelps } from "../domain/job-failure.js"
import { en } from "./en.js"
import type { InputRefusalReason, Messages } from "./messages.js"
import { ru } from "./ru.js"

const locales = { en, ru } as const satisfies Record<string, Messages>

export type Language = keyof typeof locales

export const languages = Object.keys(locales) as ReadonlyArray<Language>

/** The language for Telegram's `language_code` ("ru", "pt-br"…); English when the bot does not speak it. */
export const languageOf = (code: string | null | undefined): Language => {
  const base = code?.toLowerCase().split(/[-_]/)[0]
  return languages.find((language) => language === base) ?? "en"
}

export const messagesFor = (language: Language): Messages => locales[language]

const isInputRefusalReason = (messages: Messages, reason: string): reason is InputRefusalReason =>
  Object.prototype.hasOwnProperty.call(messages.inputRefused, reason)

/**
 * Why a job ended without a video, that its `cost` is back, and whether "Try again" can
 * help. The only place a job failure becomes words.
 */
export const failureText = (language: Language, failure: JobFailure, cost: number): string => {
  const messages = messagesFor(language)
  const what = failure._tag !== "KieUserError"
    ? messages.jobFailed[failure._tag]
    : messages.inputRefused[isInputRefusalReason(messages, failure.reason) ? failure.reason : "PromptRejected"]
  return `${what} ${messages.creditsBack(cost)}${retryHelps(failure) ? ` ${messages.pressTryAgain}` : ""}`
}

export type { Messages } from "./messages.js"
