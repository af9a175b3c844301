/** Русский. */
import type { Balance } from "../domain/balance.js"
import type { Messages, VideoPrice } from "./messages.js"
import { minutesSeconds, pluralRules } from "./plural.js"

const plural = pluralRules("ru", ["one", "few", "many", "other"])

const credits = (n: number) => `${n} ${plural(n, { one: "кредит", few: "кредита", many: "кредитов", other: "кредита" })}`

const balanceLine = (balance: Balance) =>
  `Баланс: ${credits(balance.credits)}${
    balance.freeTokens > 0
      ? ` и ${balance.freeTokens} ${
        plural(balance.freeTokens, { one: "бесплатный", few: "бесплатных", many: "бесплатных", other: "бесплатного" })
      }`
      : ""
  }`

/** "Видео с вашими настройками (Kling 2.6, 5 с) стоит 1 кредит." */
const priceLine = (price: VideoPrice) =>
  `Видео с вашими настройками (${price.model}, ${price.durationSeconds} с) стоит ${credits(price.cost)}.`

const historyStates: Record<string, string> = {
  delivered: "✅ готово",
  refunded: "↩️ не получилось, возврат",
  failed: "❌ ошибка"
}

export const ru: Messages = {
  credits,
  balanceLine,

  welcome: (name, freshGrant, balance, price) =>
    `Привет, ${name ?? "друг"}! Я превращаю фото в короткое видео. 🎬\n\n` +
    `Как это работает: пришлите фото (или картинку файлом) с подписью, описывающей движение, ` +
    `например «волны накатывают, камера медленно движется влево». Через несколько минут я пришлю видео.\n\n` +
    (freshGrant > 0
      ? `🎁 Для начала — ${freshGrant} ${
        plural(freshGrant, {
          one: "бесплатный кредит",
          few: "бесплатных кредита",
          many: "бесплатных кредитов",
          other: "бесплатного кредита"
        })
      }.\n`
      : "") +
    `${priceLine(price)}\n${balanceLine(balance)}\n/buy — купить кредиты; /help — всё, что я умею.`,
  help: (price, presets) =>
    `Пришлите фото с подписью, описывающей движение. ` +
    `${presets ? "Без подписи можно выбрать готовое движение." : "Без подписи я добавлю мягкое движение сам."}\n` +
    `${priceLine(price)} Сначала тратятся бесплатные кредиты.\n\n` +
    `/settings — модель и длительность (от них зависит цена)\n/balance — баланс\n` +
    `/buy — купить кредиты за звёзды Telegram\n/history — последние 10 видео\n` +
    `/invite — ваша ссылка-приглашение\n/promo КОД — активировать промокод\n` +
    `/terms, /privacy, /paysupport — правила, ваши данные, помощь от человека`,
  balance: (balance, price) =>
    `${balanceLine(balance)}\n${priceLine(price)}` +
    (balance.total < price.cost ? `\nНа видео не хватает: купить кредиты — /buy.` : ""),
  captionTooLong: (model, limit, length) =>
    `В подписи ${length} ${plural(length, { one: "символ", few: "символа", many: "символов", other: "символа" })}, ` +
    `а ${model} принимает не больше ${limit}. Сократите её и пришлите фото снова. Ничего не списано.`,
  hint: "Пришлите фото (или картинку файлом) с подписью, описывающей движение. " +
    "Текст, стикеры, видео и голосовые превратить в видео нельзя. Подробнее — /help.",
  notAnImage: "Этот файл — не картинка. Пришлите фото или файл JPEG/PNG.",
  unknownCommand: "Неизвестная команда. Список команд — /help.",
  insufficient: (cost, balance, packages) =>
    `Не хватает кредитов: видео стоит ${credits(cost)}, а у вас ${credits(balance.total)}.` +
    `\n\nПакеты кредитов:\n` +
    packages.map((p) => `• ${credits(p.credits)}: ${p.stars} ⭐`).join("\n"),
  buyButton: (n, stars) => `Купить ${credits(n)} за ${stars} ⭐`,
  tooManyInFlight: (limit) =>
    `У вас уже ${limit} видео в работе. Дождитесь готового и пришлите следующее фото. Ничего не списано.`,
  flood: (seconds) => `Слишком много сообщений. Подождите ${seconds} с; до этого сообщения не обрабатываются.`,
  floodToast: "Слишком много запросов. Подождите немного.",
  settings: (model, duration, cost) =>
    `Выберите модель и длительность для следующих видео. Сейчас: ${model}, ${duration} с (${credits(cost)} за видео).`,
  settingsButton: (model, duration, cost, selected) => `${selected ? "✅ " : ""}${model} · ${duration} с · ${credits(cost)}`,
  settingsSaved: (model, duration, cost) =>
    `Сохранено: ${model}, ${duration} с, ${credits(cost)} за видео. Следующее фото будет с ними.`,
  historyEmpty: "Видео пока нет. Пришлите фото, чтобы сделать первое.",
  historyHeader: "Ваши последние видео:",
  historyLine: (when, model, duration, state) => `${when} · ${model} ${duration} с · ${historyStates[state] ?? "⏳ в работе"}`,
  staleButton: "Эта кнопка больше не работает. Пришлите новое фото.",
  cancelling: "Отменяю…",
  tooLateToCancel: "Отменить уже нельзя: сервис генерации уже делает это видео.",
  againStarting: "Запускаю новое видео…",
  againAlreadyStarted: "Уже запущено, секунду.",
  presetMenu: (cost) =>
    `Без подписи? Выберите движение одним нажатием (${credits(cost)} с вашими настройками) или опишите его своими словами:`,
  presetName: {
    gentle: "🍃 Лёгкое движение",
    zoom: "🔍 Приближение",
    turn: "↪️ Поворот",
    wave: "👋 Помахать",
    smile: "😊 Улыбка",
    drama: "🎬 Эффектная камера"
  },
  presetButton: (name, cost) => `${name} · ${credits(cost)}`,
  ownWordsButton: "✍️ Своими словами",
  ownWordsHint: "Пришлите фото ещё раз с подписью, описывающей нужное движение, например: " +
    "«она смеётся, ветер развевает волосы».",
  presetStarting: (name) => `${name}: запускаю…`,
  presetChosen: (name, cost) => `${name} · ${credits(cost)}. Видео уже в работе.`,
  presetAlreadyStarted: "Видео по этому фото уже запущено.",
  privacy: "Конфиденциальность: мы храним ваш Telegram id, имя, язык, идентификаторы фото в Telegram, подписи " +
    "и историю видео и платежей — только чтобы делать видео и вести баланс. Фото отправляются в сервис " +
    "генерации (KIE.AI). Мы не продаём и не передаём ваши данные иначе. Чтобы удалить данные, нажмите «Написать в поддержку» и попросите: " +
    "мы удалим всё, кроме записей о платежах и кредитах, которые обязаны хранить по закону, и сообщим, когда это сделано.",
  terms: "Условия: видео стоит столько кредитов, сколько указано в /settings; сначала тратятся бесплатные кредиты. Если " +
    "видео не удалось сделать или доставить, кредиты возвращаются автоматически. Кредиты покупаются за Telegram " +
    "Stars и не сгорают. Не присылайте фото, на которые у вас нет прав, и контент, нарушающий закон или правила сервиса.",
  paysupport: "Поддержка: напишите сообщение прямо сейчас. Если что-то не так с покупкой, укажите, что случилось " +
    "(дата, сумма в Stars). Следующее ваше сообщение получит человек из нашей команды, а ответ придёт сюда " +
    "в течение 48 часов, включая возврат.",
  commandMenu: {
    start: "Начало: как это работает",
    help: "Что я умею и цены",
    settings: "Модель и длительность видео",
    balance: "Ваши кредиты",
    buy: "Купить кредиты за звёзды Telegram",
    history: "Последние видео",
    invite: "Пригласить друзей и получить кредиты",
    promo: "Активировать промокод",
    paysupport: "Написать человеку: оплата, данные",
    privacy: "Ваши данные",
    terms: "Правила"
  },
  support: {
    contactButton: "✉️ Написать в поддержку",
    cancelButton: "✖️ Отменить",
    prompt: "Напишите сообщение для поддержки. Следующее ваше сообщение получит человек из нашей команды; " +
      "ответ придёт сюда в течение 48 часов.",
    cancelled: "Отменено: в поддержку ничего не отправлено.",
    received: "✅ Ваше сообщение получила наша поддержка. Ответ придёт сюда.",
    unavailable: "Извините, связаться с поддержкой через бота сейчас нельзя. Попробуйте позже.",
    answer: (text) => `💬 Поддержка:\n${text}`,
    forgotten: "Ваши данные удалены, как вы просили: имя, имя пользователя, язык, настройки, подписи и фото " +
      "ваших видео и сообщения в поддержку. Мы храним только платежи и историю кредитов, как того требует " +
      "закон; кредиты остаются на балансе."
  },

  progress: {
    queued: (waitMs) => `⏳ В очереди…${waitMs > 0 ? ` Примерное ожидание: ${minutesSeconds(waitMs)}.` : ""}`,
    paused: (cost) =>
      `⏸ Генерация временно недоступна. ${
        plural(cost, {
          one: cost === 1 ? "Ваш кредит" : `Ваш ${cost} кредит`,
          few: `Ваши ${cost} кредита`,
          many: `Ваши ${cost} кредитов`,
          other: `Ваши ${cost} кредита`
        })
      } в безопасности: мы продолжим автоматически.`,
    generating: (elapsedMs) =>
      `🎬 Создаю видео… прошло ${minutesSeconds(elapsedMs)}. Обычно это занимает несколько минут.`,
    slow: (elapsedMs) => `🎬 Создаю видео… прошло ${minutesSeconds(elapsedMs)}. Сегодня дольше обычного, но мы ждём.`,
    done: "✅ Готово!",
    ended: "⚠️ Не получилось."
  },
  buttons: {
    generateAgain: "🔁 Сгенерировать ещё",
    tryAgain: "🔁 Попробовать снова",
    cancel: "✖️ Отменить"
  },
  videoCaption: (balance) => `Ваше видео готово! 🎉\n${balanceLine(balance)}`,
  videoTooBig: (url, sizeBytes, balance) =>
    `Ваше видео готово, но оно слишком большое для Telegram (${Math.round(sizeBytes / 1_000_000)} МБ). ` +
    `Скачайте его по ссылке (действует около суток):\n${url}\n${balanceLine(balance)}`,
  jobFailed: {
    KieTransientError: "Сервис генерации сейчас перегружен, и видео не получилось.",
    KieOperatorError: "Генерация временно недоступна по нашей вине. Мы уже разбираемся.",
    KieUnknownError: "Во время генерации что-то пошло не так. Извините.",
    Deadline: "Видео создавалось слишком долго, и мы перестали ждать.",
    PhotoUnavailable: "Не удалось скачать фото из Telegram (возможно, оно больше 20 МБ). Пришлите его ещё раз как фото.",
    DeliveryFailed: "Видео готово, но отправить его в этот чат не удалось.",
    Cancelled: "Отменено до отправки в сервис генерации.",
    InternalError: "Во время создания видео у нас произошла ошибка, и нам пришлось остановиться. Извините."
  },
  inputRefused: {
    ContentPolicy: "Сервис генерации отклонил фото или подпись по правилам контента. Попробуйте другое фото или формулировку.",
    UnusableImage: "Сервис не смог использовать это фото (формат, размер или содержимое). Пришлите другое фото, JPEG или PNG.",
    PromptTooLong: "Подпись слишком длинная для этой модели. Сократите её.",
    PromptLanguage: "Сейчас сервис принимает подписи только на английском. Напишите подпись по-английски.",
    PromptRejected: "Сервис генерации отклонил запрос. Попробуйте другое фото или подпись."
  },
  creditsBack: (cost) =>
    plural(cost, {
      one: cost === 1 ? "Кредит возвращён на баланс." : `${cost} кредит возвращён на баланс.`,
      few: `${cost} кредита возвращены на баланс.`,
      many: `${cost} кредитов возвращены на баланс.`,
      other: `${cost} кредита возвращены на баланс.`
    }),
  pressTryAgain: "Нажмите «Попробовать снова».",
  updateSetAside: "Извините, из-за ошибки на нашей стороне я не смог обработать ваше последнее сообщение и пропустил его. " +
    "Попробуйте ещё раз, может быть чуть иначе. Если это повторяется, напишите в /paysupport.",

  payments: {
    buyIntro: (balance, price) => `Купить кредиты за звёзды Telegram ⭐\n${priceLine(price)}\n${balanceLine(balance)}`,
    invoiceTitle: (offer) => credits(offer.credits),
    invoiceDescription: (offer) =>
      `${credits(offer.credits)} для видео из фото. Не сгорают; кредиты за видео, которое не получилось, возвращаются.`,
    invoiceLabel: (offer) => credits(offer.credits),
    packageGone: "Этот пакет больше не продаётся. Смотрите /buy.",
    refusal: {
      "invalid-invoice": "Этот счёт выставлен не ботом. Получите новый через /buy.",
      "package-gone": "Этот пакет больше не продаётся. Актуальные — в /buy.",
      "price-changed": "Цена пакета изменилась. Новый счёт — через /buy.",
      "wrong-currency": "Этот счёт можно оплатить только звёздами Telegram.",
      "wrong-amount": "Сумма не совпадает со счётом. Новый счёт — через /buy.",
      "not-your-invoice": "Этот счёт выставлен другому пользователю. Получите свой через /buy."
    },
    thanks: (n, balance, price) =>
      `Спасибо за покупку! Начислено: ${credits(n)}.\n${balanceLine(balance)}. ${priceLine(price)} Отправьте фото, чтобы начать.`,
    creditedLate: (n, balance) => `Мы нашли вашу оплату и начислили ${credits(n)}. ${balanceLine(balance)}.`,
    paymentProblem:
      "Оплата получена, но мы не смогли сопоставить её с пакетом. Администратор уже уведомлён; напишите /paysupport.",
    refunded: (stars, balance) => `Возвращено ${stars} ⭐. ${balanceLine(balance)}.`
  },

  invite: {
    offer: (o) =>
      `🤝 Приглашайте друзей по вашей личной ссылке:\n${o.link}\n\n` +
      `Друг получит ${credits(o.friendGets)} бесплатно для начала. ` +
      (o.bonus > 0
        ? `Вы получите ${credits(o.bonus)} бесплатно, когда он ${
          o.trigger === "purchase" ? "сделает первую покупку" : "получит первое видео"
        } (не больше ${o.dailyCap} ${plural(o.dailyCap, { one: "друга", few: "друзей", many: "друзей", other: "друга" })} в день). ` +
          `Считаются только те, кто ещё ни разу не пользовался ботом.`
        : `Сейчас за приглашения бонус не начисляется.`) +
      `\n\nПриглашено: ${o.invited}, из них выполнили условие: ${o.converted}; вы заработали ${credits(o.earned)}.`,
    joined: (trigger) =>
      `🤝 Вы пришли по приглашению друга. Добро пожаловать!` +
      (trigger === undefined
        ? ""
        : ` Ваш друг получит бонус, когда вы ${trigger === "purchase" ? "сделаете первую покупку" : "получите первое видео"}.`),
    bonusReceived: (n, balance) => `🎉 Приглашённый вами друг выполнил условие: вам начислено ${credits(n)}.\n${balanceLine(balance)}`
  },

  promo: {
    usage: "Отправьте код после команды, например: /promo SPRING25",
    redeemed: (n, balance) => `🎁 Промокод принят: начислено ${credits(n)}.\n${balanceLine(balance)}`,
    refused: {
      unknown: (code) => `Промокода «${code}» не существует. Проверьте написание и попробуйте снова.`,
      "already-redeemed": (code) => `Вы уже использовали промокод «${code}». Каждый код действует один раз на человека.`,
      disabled: (code) => `Промокод «${code}» отозван и больше не действует.`,
      expired: (code) => `Срок действия промокода «${code}» истёк.`,
      exhausted: (code) => `Промокод «${code}» исчерпан: все его активации уже использованы.`
    }
  },

  stats: {
    title: (today) => `📊 Статистика (UTC), сегодня ${today}`,
    today: "Сегодня",
    week: (since) => `7 дней (с ${since})`,
    users: "пользователи: новые",
    active: "активные",
    jobs: "задания",
    delivered: "готово",
    refunded: "возврат",
    failed: "сбой",
    running: "в работе",
    success: "успех",
    revenue: "выручка",
    payments: "платежей",
    credits: "продано кредитов",
    kie: "задач KIE/видео",
    generation: "генерация p50/p95",
    failures: "ошибки",
    invites: "приглашено",
    converted: "выполнили условие",
    promo: "активаций промокодов"
  }
}
