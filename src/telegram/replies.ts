/**
 * Typed failures of a job → what the user reads. The only place where an error class
 * becomes words; every message says what happened and that the credit is back.
 */
import type { Language } from "./texts.js"

/** Why a job ended without a video; stored in `jobs.error_class`. */
export type JobFailure =
  | { readonly _tag: "KieUserError"; readonly reason: string }
  | { readonly _tag: "KieTransientError"; readonly reason: string }
  | { readonly _tag: "KieOperatorError"; readonly reason: string }
  | { readonly _tag: "KieUnknownError"; readonly reason: string }
  | { readonly _tag: "Deadline" }
  | { readonly _tag: "PhotoUnavailable"; readonly reason: string }
  | { readonly _tag: "DeliveryFailed"; readonly reason: string }
  | { readonly _tag: "Cancelled" }
  /** The job's driver kept failing the same way (src/actors/job-entity.ts gives up on it). */
  | { readonly _tag: "InternalError" }

/** Whether pressing "Try again" can help. */
export const retryHelps = (failure: JobFailure): boolean =>
  failure._tag !== "KieUserError" && failure._tag !== "PhotoUnavailable" && failure._tag !== "Cancelled"

const creditBack = { en: "Your credit is back on your balance.", ru: "Кредит возвращён на баланс." }

export const failureText = (lang: Language, failure: JobFailure): string => {
  const en = (): string => {
    switch (failure._tag) {
      case "KieUserError":
        switch (failure.reason) {
          case "ContentPolicy":
            return "The video service refused this photo or prompt under its content policy. Please try another photo or wording."
          case "UnusableImage":
            return "The video service could not use this photo (format, size or content). Please send another photo, JPEG or PNG."
          case "PromptTooLong":
            return "The caption is too long for this model. Please shorten it."
          case "PromptLanguage":
            return "The video service only accepts English prompts right now. Please write the caption in English."
          default:
            return "The video service refused this request. Please try another photo or prompt."
        }
      case "KieTransientError":
        return "The video service is overloaded right now and we could not finish your video."
      case "KieOperatorError":
        return "Video generation is temporarily unavailable on our side. We are on it."
      case "KieUnknownError":
        return "Something went wrong while generating your video. Sorry about that."
      case "Deadline":
        return "Your video took far longer than it should, so we stopped waiting."
      case "PhotoUnavailable":
        return "We could not download your photo from Telegram (it may be too large, over 20 MB). Please send it again as a photo."
      case "DeliveryFailed":
        return "Your video was made but we could not send it to this chat."
      case "Cancelled":
        return "Cancelled before it reached the video service."
      case "InternalError":
        return "Something went wrong on our side while making your video, and we had to stop. Sorry about that."
    }
  }
  const ru = (): string => {
    switch (failure._tag) {
      case "KieUserError":
        switch (failure.reason) {
          case "ContentPolicy":
            return "Сервис генерации отклонил фото или подпись по правилам контента. Попробуйте другое фото или формулировку."
          case "UnusableImage":
            return "Сервис не смог использовать это фото (формат, размер или содержимое). Пришлите другое фото, JPEG или PNG."
          case "PromptTooLong":
            return "Подпись слишком длинная для этой модели. Сократите её."
          case "PromptLanguage":
            return "Сейчас сервис принимает подписи только на английском. Напишите подпись по-английски."
          default:
            return "Сервис генерации отклонил запрос. Попробуйте другое фото или подпись."
        }
      case "KieTransientError":
        return "Сервис генерации сейчас перегружен, и видео не получилось."
      case "KieOperatorError":
        return "Генерация временно недоступна по нашей вине. Мы уже разбираемся."
      case "KieUnknownError":
        return "Во время генерации что-то пошло не так. Извините."
      case "Deadline":
        return "Видео создавалось слишком долго, и мы перестали ждать."
      case "PhotoUnavailable":
        return "Не удалось скачать фото из Telegram (возможно, оно больше 20 МБ). Пришлите его ещё раз как фото."
      case "DeliveryFailed":
        return "Видео готово, но отправить его в этот чат не удалось."
      case "Cancelled":
        return "Отменено до отправки в сервис генерации."
      case "InternalError":
        return "Во время создания видео у нас произошла ошибка, и нам пришлось остановиться. Извините."
    }
  }
  const retry = retryHelps(failure)
    ? (lang === "ru" ? " Нажмите «Попробовать снова»." : " Press “Try again” to give it another go.")
    : ""
  return `${lang === "ru" ? ru() : en()} ${creditBack[lang]}${retry}`
}
