/**
 * Every text the user reads, in English and Russian, chosen from Telegram's language_code.
 * Errors become words only here and in ./replies.ts.
 */
export type Language = "en" | "ru"

export const languageOf = (code: string | null | undefined): Language =>
  code !== null && code !== undefined && code.toLowerCase().startsWith("ru") ? "ru" : "en"

const minutesSeconds = (ms: number) => {
  const total = Math.max(0, Math.round(ms / 1000))
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`
}

export const balanceLine = (lang: Language, balance: { readonly credits: number; readonly freeTokens: number }) =>
  lang === "ru"
    ? `Баланс: ${balance.credits} кредит(ов)${balance.freeTokens > 0 ? ` и ${balance.freeTokens} бесплатн.` : ""}`
    : `Balance: ${balance.credits} credit${balance.credits === 1 ? "" : "s"}${
      balance.freeTokens > 0 ? ` and ${balance.freeTokens} free` : ""
    }`

export const progressTexts = {
  queued: (lang: Language, waitMs: number) =>
    lang === "ru"
      ? `⏳ В очереди…${waitMs > 0 ? ` Примерное ожидание: ${minutesSeconds(waitMs)}.` : ""}`
      : `⏳ In the queue…${waitMs > 0 ? ` Estimated wait: ${minutesSeconds(waitMs)}.` : ""}`,
  paused: (lang: Language) =>
    lang === "ru"
      ? "⏸ Генерация временно недоступна. Ваш кредит в безопасности: мы продолжим автоматически."
      : "⏸ Video generation is temporarily unavailable. Your credit is safe; we will continue automatically.",
  submitting: (lang: Language) => lang === "ru" ? "📤 Загружаю фото…" : "📤 Uploading your photo…",
  generating: (lang: Language, elapsedMs: number) =>
    lang === "ru"
      ? `🎬 Создаю видео… прошло ${minutesSeconds(elapsedMs)}. Обычно это занимает несколько минут.`
      : `🎬 Generating your video… ${minutesSeconds(elapsedMs)} elapsed. This usually takes a few minutes.`,
  slow: (lang: Language, elapsedMs: number) =>
    lang === "ru"
      ? `🎬 Создаю видео… прошло ${minutesSeconds(elapsedMs)}. Сегодня дольше обычного, но мы ждём.`
      : `🎬 Generating your video… ${minutesSeconds(elapsedMs)} elapsed. It is taking longer than usual; still on it.`,
  sending: (lang: Language) => lang === "ru" ? "📨 Отправляю видео…" : "📨 Sending the video…",
  done: (lang: Language) => lang === "ru" ? "✅ Готово!" : "✅ Done!",
  ended: (lang: Language) => lang === "ru" ? "⚠️ Не получилось." : "⚠️ That did not work."
}

export const videoCaption = (lang: Language, balance: { readonly credits: number; readonly freeTokens: number }) =>
  (lang === "ru" ? "Ваше видео готово! 🎉\n" : "Your video is ready! 🎉\n") + balanceLine(lang, balance)

export const videoTooBig = (lang: Language, url: string, sizeBytes: number) => {
  const mb = Math.round(sizeBytes / 1_000_000)
  return lang === "ru"
    ? `Ваше видео готово, но оно слишком большое для Telegram (${mb} МБ). Скачайте его по ссылке (действует около суток):\n${url}`
    : `Your video is ready, but at ${mb} MB it is too large for Telegram. Download it here (the link works for about a day):\n${url}`
}

export const buttons = {
  generateAgain: (lang: Language) => lang === "ru" ? "🔁 Сгенерировать ещё" : "🔁 Generate again",
  tryAgain: (lang: Language) => lang === "ru" ? "🔁 Попробовать снова" : "🔁 Try again",
  cancel: (lang: Language) => lang === "ru" ? "✖️ Отменить" : "✖️ Cancel"
}
