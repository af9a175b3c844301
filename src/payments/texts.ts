/**
 * What users and admins read about payments, in English and Russian. Kept apart from
 * src/telegram/texts.ts so the payment flow owns its words.
 */
import type { StarPackage } from "../config/index.js"
import type { Balance } from "../domain/balance.js"
import type { Language } from "../telegram/texts.js"
import type { Refusal } from "./packages.js"

const generations = (lang: Language, n: number) => {
  if (lang === "en") return n === 1 ? "1 generation" : `${n} generations`
  const mod10 = n % 10
  const mod100 = n % 100
  const word = mod10 === 1 && mod100 !== 11
    ? "генерация"
    : mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)
    ? "генерации"
    : "генераций"
  return `${n} ${word}`
}

const refusals: Record<Refusal, Record<Language, string>> = {
  "invalid-invoice": {
    en: "This invoice was not issued by the bot. Use /buy to get a new one.",
    ru: "Этот счёт выставлен не ботом. Получите новый через /buy."
  },
  "package-gone": {
    en: "This package is no longer on sale. Use /buy to see the current ones.",
    ru: "Этот пакет больше не продаётся. Актуальные — в /buy."
  },
  "price-changed": {
    en: "The price of this package has changed. Use /buy for a new invoice.",
    ru: "Цена пакета изменилась. Новый счёт — через /buy."
  },
  "wrong-currency": {
    en: "This invoice can only be paid in Telegram Stars.",
    ru: "Этот счёт можно оплатить только звёздами Telegram."
  },
  "wrong-amount": {
    en: "The amount does not match the invoice. Use /buy for a new one.",
    ru: "Сумма не совпадает со счётом. Новый счёт — через /buy."
  },
  "not-your-invoice": {
    en: "This invoice was made for another user. Use /buy to get your own.",
    ru: "Этот счёт выставлен другому пользователю. Получите свой через /buy."
  }
}

export const paymentTexts = (lang: Language) => ({
  buyIntro: (balance: Balance | undefined) =>
    (lang === "ru" ? "Купить генерации за звёзды Telegram ⭐" : "Buy generations with Telegram Stars ⭐") +
    (balance === undefined
      ? ""
      : lang === "ru"
      ? `\nСейчас у вас: ${balance.credits} оплаченных и ${balance.freeTokens} бесплатных.`
      : `\nYou have ${balance.credits} paid and ${balance.freeTokens} free.`),
  packageButton: (p: StarPackage) => `${generations(lang, p.credits)} — ${p.stars} ⭐`,
  invoiceTitle: (p: StarPackage) => generations(lang, p.credits),
  invoiceDescription: (p: StarPackage) =>
    lang === "ru"
      ? `${generations(lang, p.credits)} фото-в-видео. Не сгорают; неудачная генерация возвращается.`
      : `${generations(lang, p.credits)} of photo-to-video. They never expire; a failed generation is returned.`,
  invoiceLabel: (p: StarPackage) => generations(lang, p.credits),
  packageGone: lang === "ru" ? "Этот пакет больше не продаётся. Смотрите /buy." : "That package is no longer on sale. See /buy.",
  refusal: (refusal: Refusal) => refusals[refusal][lang],
  thanks: (credits: number, balance: Balance) =>
    lang === "ru"
      ? `Спасибо за покупку! Начислено: ${generations(lang, credits)}.\nБаланс: ${balance.credits} оплаченных, ${balance.freeTokens} бесплатных. Отправьте фото, чтобы начать.`
      : `Thank you! ${generations(lang, credits)} added.\nBalance: ${balance.credits} paid, ${balance.freeTokens} free. Send a photo to start.`,
  creditedLate: (credits: number, balance: Balance) =>
    lang === "ru"
      ? `Мы нашли вашу оплату и начислили ${generations(lang, credits)}. Баланс: ${balance.credits} оплаченных, ${balance.freeTokens} бесплатных.`
      : `We found your payment and added ${generations(lang, credits)}. Balance: ${balance.credits} paid, ${balance.freeTokens} free.`,
  paymentProblem: lang === "ru"
    ? "Оплата получена, но мы не смогли сопоставить её с пакетом. Администратор уже уведомлён; напишите /paysupport."
    : "Your payment arrived but we could not match it to a package. The admins have been told; write /paysupport.",
  refunded: (stars: number, balance: Balance) =>
    lang === "ru"
      ? `Возвращено ${stars} ⭐. Баланс: ${balance.credits} оплаченных, ${balance.freeTokens} бесплатных.`
      : `${stars} ⭐ have been refunded to you. Balance: ${balance.credits} paid, ${balance.freeTokens} free.`
})

export type PaymentTexts = ReturnType<typeof paymentTexts>

/** Admin-facing: English only, like the other operator messages. */
export const adminTexts = {
  refundUsage: "Usage: /refund <telegram_payment_charge_id>",
  refundDone: (chargeId: string, userId: number, stars: number, credits: number) =>
    `Refunded ${stars} ⭐ of ${chargeId} to user ${userId}; ${credits} credit(s) removed.`,
  refundNotFound: (chargeId: string) => `No payment ${chargeId} in the payments table.`,
  refundAlready: (chargeId: string) => `Payment ${chargeId} was already refunded.`,
  refundSpent: (chargeId: string, credits: number, available: number) =>
    `Not refunded: ${chargeId} granted ${credits} credit(s) but the user has only ${available} left (already spent).`,
  refundTelegramFailed: (chargeId: string, detail: string) =>
    `Credits of ${chargeId} were removed but Telegram refused the refund (${detail}). Run /refund again; the credits are not removed twice.`
}
