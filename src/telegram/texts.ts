/**
 * Every text the user reads, in English and Russian, chosen from Telegram's language_code.
 * Errors become words only here and in ./replies.ts.
 */
import type { Balance } from "../domain/balance.js"

export type Language = "en" | "ru"

export const languageOf = (code: string | null | undefined): Language =>
  code !== null && code !== undefined && code.toLowerCase().startsWith("ru") ? "ru" : "en"

const minutesSeconds = (ms: number) => {
  const total = Math.max(0, Math.round(ms / 1000))
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`
}

export const balanceLine = (lang: Language, balance: Balance) =>
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
  generating: (lang: Language, elapsedMs: number) =>
    lang === "ru"
      ? `🎬 Создаю видео… прошло ${minutesSeconds(elapsedMs)}. Обычно это занимает несколько минут.`
      : `🎬 Generating your video… ${minutesSeconds(elapsedMs)} elapsed. This usually takes a few minutes.`,
  slow: (lang: Language, elapsedMs: number) =>
    lang === "ru"
      ? `🎬 Создаю видео… прошло ${minutesSeconds(elapsedMs)}. Сегодня дольше обычного, но мы ждём.`
      : `🎬 Generating your video… ${minutesSeconds(elapsedMs)} elapsed. It is taking longer than usual; still on it.`,
  done: (lang: Language) => lang === "ru" ? "✅ Готово!" : "✅ Done!",
  ended: (lang: Language) => lang === "ru" ? "⚠️ Не получилось." : "⚠️ That did not work."
}

export const videoCaption = (lang: Language, balance: Balance) =>
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

const creditWord = (n: number) => `${n} credit${n === 1 ? "" : "s"}`

/** What the bot's handlers say, by language. */
const botTextsEn = {
  welcome: (name: string, freshGrant: number, balance: Balance) =>
    `Hi ${name}! I turn a photo into a short video. 🎬\n\n` +
    `How it works: send me a photo (or an image file) with a caption that describes the motion you want, ` +
    `for example “the waves roll in and the camera slowly pans left”. In a few minutes I send the video back.\n\n` +
    (freshGrant > 0 ? `🎁 Your first ${freshGrant} videos are free.\n` : "") +
    `${balanceLine("en", balance)}\n/help lists everything I can do.`,
  help: (defaultCost: number) =>
    `Send a photo with a caption that describes the motion. Without a caption I use a gentle default motion.\n` +
    `A video with the default settings costs ${creditWord(defaultCost)}; free videos are used first.\n\n` +
    `/settings: choose the model and duration\n/balance: your credits\n/history: your last 10 videos\n` +
    `/terms, /privacy, /paysupport: the rules, your data, help with payments`,
  balance: (balance: Balance, cost: number) =>
    `${balanceLine("en", balance)}\nOne video with your settings costs ${creditWord(cost)}.`,
  captionTooLong: (model: string, limit: number, length: number) =>
    `Your caption has ${length} characters, but ${model} accepts at most ${limit}. ` +
    `Please shorten it and send the photo again. Nothing was charged.`,
  hint: "Please send me a photo (or an image file) with a caption that describes the motion you want. " +
    "Text, stickers, videos and voice messages can't be turned into a video. /help explains more.",
  notAnImage: "This file is not an image. Please send a photo, or a JPEG or PNG file.",
  unknownCommand: "Unknown command. /help lists what I can do.",
  insufficient: (cost: number, balance: Balance, packages: ReadonlyArray<{ credits: number; stars: number }>) =>
    `You don't have enough credits for this video: it costs ${creditWord(cost)} and you have ${
      creditWord(balance.total)
    }.\n\nCredit packages:\n` +
    packages.map((p) => `• ${creditWord(p.credits)}: ${p.stars} ⭐`).join("\n"),
  buyButton: (credits: number, stars: number) => `Buy ${creditWord(credits)} for ${stars} ⭐`,
  buyComingSoon: "Buying credits with Telegram Stars is coming very soon. Thank you for your patience!",
  tooManyInFlight: (limit: number) =>
    `You already have ${limit === 1 ? "a video" : `${limit} videos`} in progress. ` +
    `Please wait until one is ready, then send the next photo. Nothing was charged.`,
  flood: (seconds: number) =>
    `You are sending messages too fast. Please wait ${seconds} seconds; messages sent until then are ignored.`,
  floodToast: "Too many requests. Please wait a moment.",
  settings: (model: string, duration: number, cost: number) =>
    `Choose the model and duration for your next videos. Now: ${model}, ${duration} s (${creditWord(cost)} per video).`,
  settingsButton: (model: string, duration: number, cost: number, selected: boolean) =>
    `${selected ? "✅ " : ""}${model} · ${duration} s · ${creditWord(cost)}`,
  settingsSaved: (model: string, duration: number, cost: number) =>
    `Saved: ${model}, ${duration} s, ${creditWord(cost)} per video. Your next photo uses it.`,
  historyEmpty: "You have no videos yet. Send a photo to make your first one.",
  historyHeader: "Your last videos:",
  historyState: (state: string): string =>
    state === "delivered"
      ? "✅ delivered"
      : state === "refunded"
      ? "↩️ not made, refunded"
      : state === "failed"
      ? "❌ failed"
      : "⏳ in progress",
  staleButton: "This button no longer works. Send a new photo to start again.",
  cancelling: "Cancelling…",
  tooLateToCancel: "Too late to cancel: the video service is already making this video.",
  againStarting: "Starting a new video…",
  againAlreadyStarted: "Already started, one moment.",
  privacy: "Privacy: we keep your Telegram id, name, language, your photos' Telegram file ids, captions and " +
    "the history of your videos and payments, only to make your videos and keep your balance. Photos are sent " +
    "to our video service (KIE.AI) to generate the video. We do not sell or share your data otherwise. " +
    "To have your data deleted, write to /paysupport.",
  terms: "Terms: each video costs the credits shown in /settings; free videos are used first. When a video " +
    "cannot be made or delivered, its credits come back automatically. Credits are bought with Telegram Stars " +
    "and do not expire. Do not send photos you have no right to use, or content that breaks the law or " +
    "the video service's content policy.",
  paysupport: "Payment support: if something went wrong with a purchase, reply here with what happened " +
    "(date, amount in Stars) and we will sort it out, including refunds, within 48 hours.",
  adminHelp: "Admin: /stats today's and 7 days' figures · /grant <user id> <credits> <note> · /refund <charge id>",
  grantUsage: "Usage: /grant <user id> <credits> <note>, for example /grant 12345 5 apology for outage",
  grantNoSuchUser: (user: number) => `User ${user} has never used the bot.`,
  grantDone: (user: number, delta: number, balance: Balance) =>
    `Adjusted user ${user} by ${delta > 0 ? "+" : ""}${delta}. Their ${balanceLine("en", balance).toLowerCase()}`,
  grantRefused: (user: number, available: number) =>
    `Refused: user ${user} has only ${creditWord(available)} to take away.`,
  operatorAlert: (subject: string, detail: string) => `⚠️ Operator alert: ${subject}\n${detail}`,
  sorry: "Sorry, something went wrong on our side. Please try again in a minute."
}

export type BotTexts = typeof botTextsEn

const botTextsRu: BotTexts = {
  welcome: (name, freshGrant, balance) =>
    `Привет, ${name}! Я превращаю фото в короткое видео. 🎬\n\n` +
    `Как это работает: пришлите фото (или картинку файлом) с подписью, описывающей движение, ` +
    `например «волны накатывают, камера медленно движется влево». Через несколько минут я пришлю видео.\n\n` +
    (freshGrant > 0 ? `🎁 Первые ${freshGrant} видео бесплатно.\n` : "") +
    `${balanceLine("ru", balance)}\n/help — всё, что я умею.`,
  help: (defaultCost) =>
    `Пришлите фото с подписью, описывающей движение. Без подписи я добавлю мягкое движение сам.\n` +
    `Видео с настройками по умолчанию стоит ${defaultCost} кредит(ов); сначала тратятся бесплатные.\n\n` +
    `/settings — модель и длительность\n/balance — баланс\n/history — последние 10 видео\n` +
    `/terms, /privacy, /paysupport — правила, ваши данные, помощь с оплатой`,
  balance: (balance, cost) => `${balanceLine("ru", balance)}\nВидео с вашими настройками стоит ${cost} кредит(ов).`,
  captionTooLong: (model, limit, length) =>
    `В подписи ${length} символов, а ${model} принимает не больше ${limit}. ` +
    `Сократите её и пришлите фото снова. Ничего не списано.`,
  hint: "Пришлите фото (или картинку файлом) с подписью, описывающей движение. " +
    "Текст, стикеры, видео и голосовые превратить в видео нельзя. Подробнее — /help.",
  notAnImage: "Этот файл — не картинка. Пришлите фото или файл JPEG/PNG.",
  unknownCommand: "Неизвестная команда. Список команд — /help.",
  insufficient: (cost, balance, packages) =>
    `Не хватает кредитов: видео стоит ${cost}, у вас ${balance.total}.\n\nПакеты кредитов:\n` +
    packages.map((p) => `• ${p.credits} кредит(ов): ${p.stars} ⭐`).join("\n"),
  buyButton: (credits, stars) => `Купить ${credits} за ${stars} ⭐`,
  buyComingSoon: "Покупка кредитов за Telegram Stars появится совсем скоро. Спасибо за терпение!",
  tooManyInFlight: (limit) =>
    `У вас уже ${limit} видео в работе. Дождитесь готового и пришлите следующее фото. Ничего не списано.`,
  flood: (seconds) => `Слишком много сообщений. Подождите ${seconds} с; до этого сообщения не обрабатываются.`,
  floodToast: "Слишком много запросов. Подождите немного.",
  settings: (model, duration, cost) =>
    `Выберите модель и длительность для следующих видео. Сейчас: ${model}, ${duration} с (${cost} кредит(ов) за видео).`,
  settingsButton: (model, duration, cost, selected) => `${selected ? "✅ " : ""}${model} · ${duration} с · ${cost} кр.`,
  settingsSaved: (model, duration, cost) =>
    `Сохранено: ${model}, ${duration} с, ${cost} кредит(ов) за видео. Следующее фото будет с ними.`,
  historyEmpty: "Видео пока нет. Пришлите фото, чтобы сделать первое.",
  historyHeader: "Ваши последние видео:",
  historyState: (state) =>
    state === "delivered"
      ? "✅ готово"
      : state === "refunded"
      ? "↩️ не получилось, возврат"
      : state === "failed"
      ? "❌ ошибка"
      : "⏳ в работе",
  staleButton: "Эта кнопка больше не работает. Пришлите новое фото.",
  cancelling: "Отменяю…",
  tooLateToCancel: "Отменить уже нельзя: сервис генерации уже делает это видео.",
  againStarting: "Запускаю новое видео…",
  againAlreadyStarted: "Уже запущено, секунду.",
  privacy: "Конфиденциальность: мы храним ваш Telegram id, имя, язык, идентификаторы фото в Telegram, подписи " +
    "и историю видео и платежей — только чтобы делать видео и вести баланс. Фото отправляются в сервис " +
    "генерации (KIE.AI). Мы не продаём и не передаём ваши данные иначе. Чтобы удалить данные, напишите в /paysupport.",
  terms: "Условия: видео стоит столько кредитов, сколько указано в /settings; сначала тратятся бесплатные. Если " +
    "видео не удалось сделать или доставить, кредиты возвращаются автоматически. Кредиты покупаются за Telegram " +
    "Stars и не сгорают. Не присылайте фото, на которые у вас нет прав, и контент, нарушающий закон или правила сервиса.",
  paysupport: "Поддержка по оплате: если с покупкой что-то не так, напишите здесь, что случилось (дата, сумма в " +
    "Stars), и мы разберёмся, включая возврат, в течение 48 часов.",
  adminHelp: botTextsEn.adminHelp,
  grantUsage: botTextsEn.grantUsage,
  grantNoSuchUser: botTextsEn.grantNoSuchUser,
  grantDone: botTextsEn.grantDone,
  grantRefused: botTextsEn.grantRefused,
  operatorAlert: botTextsEn.operatorAlert,
  sorry: "Извините, у нас что-то пошло не так. Попробуйте через минуту."
}

export const botTexts = (lang: Language): BotTexts => lang === "ru" ? botTextsRu : botTextsEn
