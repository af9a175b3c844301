import { describe, expect, it } from "@effect/vitest"
import { Balance } from "../../src/domain/balance.js"
import { failureText, type Language, languageOf, languages, type Messages, messagesFor } from "../../src/i18n/index.js"
import { operatorTexts } from "../../src/i18n/operator.js"
import { pluralRules } from "../../src/i18n/plural.js"
import { type JobFailure, retryHelps } from "../../src/domain/job-failure.js"

const counts = [0, 1, 2, 5, 11, 21, 22, 25, 101, 1.5]
const balances = [{ credits: 0, freeTokens: 0 }, { credits: 1, freeTokens: 1 }, { credits: 5, freeTokens: 2 }, { credits: 21, freeTokens: 22 }]
  .map((figures) => new Balance(figures))
const offers = [{ credits: 1, stars: 50 }, { credits: 5, stars: 250 }, { credits: 21, stars: 900 }]
const failures: ReadonlyArray<JobFailure> = [
  ...["ContentPolicy", "UnusableImage", "PromptRejected", "PromptTooLong", "PromptLanguage", "NotAReason"].map((reason) => ({ _tag: "KieUserError" as const, reason })),
  { _tag: "KieTransientError", reason: "Timeout" },
  { _tag: "KieOperatorError", reason: "BadKey" },
  { _tag: "KieUnknownError", reason: "x" },
  { _tag: "Deadline" },
  { _tag: "PhotoUnavailable", reason: "TooLarge" },
  { _tag: "DeliveryFailed", reason: "BlockedByUser" },
  { _tag: "Cancelled" }
]

const prices = counts.map((cost) => ({ model: "Kling 2.6", durationSeconds: 5, cost }))

const each = <A>(values: ReadonlyArray<A>, render: (value: A) => string | ReadonlyArray<string>) => values.flatMap(render)
const texts = (section: Record<string, string>) => Object.values(section)

/** Every text of a locale with sample arguments; one entry per key, so a new key needs its sample here. */
const renderings: { readonly [K in keyof Messages]: (m: Messages) => ReadonlyArray<string> } = {
  credits: (m) => each(counts, m.credits),
  balanceLine: (m) => each(balances, m.balanceLine),
  welcome: (m) => each(counts, (n) => [m.welcome("Ann", n, balances[2]!, prices[3]!), m.welcome(undefined, n, balances[0]!, prices[2]!)]),
  help: (m) => each(prices, (price) => [m.help(price, true), m.help(price, false)]),
  balance: (m) => each(prices, (price) => [m.balance(balances[3]!, price), m.balance(balances[0]!, price)]),
  captionTooLong: (m) => each(counts, (n) => m.captionTooLong("Kling 2.6", 1000, 1000 + n)),
  hint: (m) => [m.hint],
  notAnImage: (m) => [m.notAnImage],
  unknownCommand: (m) => [m.unknownCommand],
  insufficient: (m) => each(counts, (n) => m.insufficient(n, balances[1]!, offers)),
  buyButton: (m) => each(offers, (o) => m.buyButton(o.credits, o.stars)),
  tooManyInFlight: (m) => each(counts, m.tooManyInFlight),
  flood: (m) => each(counts, m.flood),
  floodToast: (m) => [m.floodToast],
  settings: (m) => each(counts, (n) => m.settings("Kling 2.6", 5, n)),
  settingsButton: (m) => each(counts, (n) => [m.settingsButton("Kling 2.6", 10, n, true), m.settingsButton("Kling 2.6", 10, n, false)]),
  settingsSaved: (m) => each(counts, (n) => m.settingsSaved("Kling 2.6", 5, n)),
  historyEmpty: (m) => [m.historyEmpty],
  historyHeader: (m) => [m.historyHeader],
  historyLine: (m) => each(["delivered", "refunded", "failed", "polling"], (state) => m.historyLine("2026-01-02 10:00 UTC", "Kling 2.6", 5, state)),
  staleButton: (m) => [m.staleButton],
  cancelling: (m) => [m.cancelling],
  tooLateToCancel: (m) => [m.tooLateToCancel],
  againStarting: (m) => [m.againStarting],
  againAlreadyStarted: (m) => [m.againAlreadyStarted],
  presetMenu: (m) => each(counts, m.presetMenu),
  presetName: (m) => texts(m.presetName),
  presetButton: (m) => each(counts, (n) => m.presetButton(m.presetName.zoom, n)),
  ownWordsButton: (m) => [m.ownWordsButton],
  ownWordsHint: (m) => [m.ownWordsHint],
  presetStarting: (m) => [m.presetStarting(m.presetName.wave)],
  presetChosen: (m) => each(counts, (n) => m.presetChosen(m.presetName.smile, n)),
  presetAlreadyStarted: (m) => [m.presetAlreadyStarted],
  privacy: (m) => [m.privacy],
  terms: (m) => [m.terms],
  paysupport: (m) => [m.paysupport],
  commandMenu: (m) => texts(m.commandMenu),
  support: (m) => [
    ...Object.values(m.support).filter((text): text is string => typeof text === "string"),
    m.support.answer("We refunded you.")
  ],
  progress: (m) => [
    ...each([0, 65_000], m.progress.queued),
    ...each(counts, m.progress.paused),
    m.progress.generating(65_000),
    m.progress.slow(400_000),
    m.progress.done,
    m.progress.ended
  ],
  buttons: (m) => texts(m.buttons),
  videoCaption: (m) => each(balances, m.videoCaption),
  videoTooBig: (m) => [m.videoTooBig("https://files.example/v.mp4", 61_400_000, balances[2]!)],
  jobFailed: (m) => texts(m.jobFailed),
  inputRefused: (m) => texts(m.inputRefused),
  creditsBack: (m) => each(counts, m.creditsBack),
  pressTryAgain: (m) => [m.pressTryAgain],
  updateSetAside: (m) => [m.updateSetAside],
  payments: (m) => [
    ...each(balances, (balance) => each(prices, (price) => m.payments.buyIntro(balance, price))),
    ...each(offers, (o) => [m.payments.invoiceTitle(o), m.payments.invoiceDescription(o), m.payments.invoiceLabel(o)]),
    m.payments.packageGone,
    ...texts(m.payments.refusal),
    ...each(counts, (n) => [m.payments.thanks(n, balances[2]!, prices[1]!), m.payments.creditedLate(n, balances[2]!), m.payments.refunded(n * 50, balances[1]!)]),
    m.payments.paymentProblem
  ],
  invite: (m) => [
    ...each(counts, (n) =>
      each(["purchase", "delivered"] as const, (trigger) =>
        m.invite.offer({ link: "https://t.me/bot?start=ref_a", bonus: n, trigger, friendGets: n, dailyCap: n, invited: n, converted: n, earned: n })
      )),
    ...each(counts, (n) => m.invite.bonusReceived(n, balances[2]!)),
    ...each(["purchase", "delivered", undefined] as const, m.invite.joined)
  ],
  promo: (m) => [
    m.promo.usage,
    ...each(counts, (n) => m.promo.redeemed(n, balances[3]!)),
    ...Object.values(m.promo.refused).map((refusal) => refusal("SPRING25"))
  ],
  stats: (m) => [
    ...Object.values(m.stats).filter((label): label is string => typeof label === "string"),
    m.stats.title("2026-01-02"),
    m.stats.week("2025-12-27")
  ]
}

const renderAll = (language: Language) => {
  const m = messagesFor(language)
  return Object.values(renderings).flatMap((render) => render(m))
}

describe("locales", () => {
  it.each(languages)("every text of %s renders, without undefined, NaN or an object", (language) => {
    const rendered = [
      ...renderAll(language),
      ...each(failures, (failure) => each(counts, (cost) => failureText(language, failure, cost)))
    ]
    expect(rendered.length).toBeGreaterThan(300)
    for (const text of rendered) {
      expect(text.trim()).not.toBe("")
      expect(text).not.toMatch(/undefined|NaN|\[object|null/)
    }
  })

  it("Russian counts take their plural forms", () => {
    const ru = messagesFor("ru")
    expect([1, 2, 5, 11, 21, 22, 25].map(ru.credits)).toEqual([
      "1 кредит", "2 кредита", "5 кредитов", "11 кредитов", "21 кредит", "22 кредита", "25 кредитов"
    ])
    expect([1, 2, 5, 11, 21, 22, 25].map((freeTokens) => ru.balanceLine(new Balance({ credits: 0, freeTokens })))).toEqual([
      "Баланс: 0 кредитов и 1 бесплатный", "Баланс: 0 кредитов и 2 бесплатных", "Баланс: 0 кредитов и 5 бесплатных",
      "Баланс: 0 кредитов и 11 бесплатных", "Баланс: 0 кредитов и 21 бесплатный", "Баланс: 0 кредитов и 22 бесплатных",
      "Баланс: 0 кредитов и 25 бесплатных"
    ])
    const welcome = (n: number) => ru.welcome("Аня", n, new Balance({ credits: 0, freeTokens: n }), prices[1]!).split("\n").find((line) => line.startsWith("🎁"))
    expect([1, 2, 5, 11, 21, 22, 25].map(welcome)).toEqual([
      "🎁 Для начала — 1 бесплатный кредит.", "🎁 Для начала — 2 бесплатных кредита.", "🎁 Для начала — 5 бесплатных кредитов.",
      "🎁 Для начала — 11 бесплатных кредитов.", "🎁 Для начала — 21 бесплатный кредит.", "🎁 Для начала — 22 бесплатных кредита.",
      "🎁 Для начала — 25 бесплатных кредитов."
    ])
    expect([1, 2, 5, 21].map(ru.creditsBack)).toEqual([
      "Кредит возвращён на баланс.", "2 кредита возвращены на баланс.", "5 кредитов возвращены на баланс.", "21 кредит возвращён на баланс."
    ])
    expect(ru.payments.invoiceTitle({ credits: 5, stars: 250 })).toBe("5 кредитов")
    expect(ru.buyButton(22, 900)).toBe("Купить 22 кредита за 900 ⭐")
    for (const text of renderAll("ru")) expect(text).not.toMatch(/кредит\(ов\)|бесплатн\.| кр\.|\d генерац|Купить генерации|оплаченн/)
  })

  it("English counts take their plural forms, and credits are the one currency", () => {
    const en = messagesFor("en")
    expect([1, 2, 21].map(en.credits)).toEqual(["1 credit", "2 credits", "21 credits"])
    expect([1, 3].map(en.creditsBack)).toEqual(["Your credit is back on your balance.", "Your 3 credits are back on your balance."])
    expect(en.flood(1)).toContain("Please wait 1 second;")
    expect(en.welcome("Ann", 1, new Balance({ credits: 0, freeTokens: 1 }), prices[1]!)).toContain("🎁 You get 1 free credit to start.")
    const offer = { credits: 5, stars: 250 }
    expect([en.payments.invoiceTitle(offer), en.payments.invoiceLabel(offer), en.buyButton(5, 250)]).toEqual(["5 credits", "5 credits", "Buy 5 credits for 250 ⭐"])
    for (const text of [...renderAll("en"), operatorTexts.refundDone("c", 1, 250, 5)]) {
      expect(text).not.toMatch(/generation(s)? (added|—)|credit\(s\)|\bpaid,/)
    }
  })

  it("a failure says what happened, that the credits are back, and offers Try again only where it helps", () => {
    for (const failure of failures) {
      const text = failureText("en", failure, 1)
      expect(text).toContain("Your credit is back on your balance.")
      expect(text.includes("Try again")).toBe(retryHelps(failure))
    }
    expect(failureText("en", { _tag: "KieUserError", reason: "NotAReason" }, 2)).toBe(
      "The video service refused this request. Please try another photo or prompt. Your 2 credits are back on your balance."
    )
    expect(failureText("ru", { _tag: "Deadline" }, 1)).toBe(
      "Видео создавалось слишком долго, и мы перестали ждать. Кредит возвращён на баланс. Нажмите «Попробовать снова»."
    )
  })

  it("Telegram's language_code picks a language the bot speaks, else English", () => {
    expect(["ru", "RU", "ru-RU", "ru_ua", "en", "en-GB", "uk", "de", "", "toString", null, undefined].map(languageOf)).toEqual([
      "ru", "ru", "ru", "ru", "en", "en", "en", "en", "en", "en", "en", "en"
    ])
  })

  it("a locale that names fewer plural categories than its language has is refused", () => {
    expect(() => pluralRules("ru", ["one", "other"])).toThrow(/few, many/)
    expect(pluralRules("en", ["one", "other"])(1, { one: "a", other: "b" })).toBe("a")
  })
})

describe("prices and the way to buy", () => {
  it("the price of the user's settings is shown, and /buy where credits may be needed", () => {
    const seedance = { model: "Seedance", durationSeconds: 12, cost: 3 }
    const poor = new Balance({ credits: 0, freeTokens: 2 })
    const en = messagesFor("en")
    const line = "A video with your settings (Seedance, 12 s) costs 3 credits."
    for (const text of [en.welcome("Ann", 2, poor, seedance), en.help(seedance, false), en.balance(poor, seedance), en.payments.buyIntro(poor, seedance)]) {
      expect(text).toContain(line)
    }
    expect(en.welcome("Ann", 2, poor, seedance)).toContain("/buy")
    expect(en.help(seedance, false)).toContain("/buy")
    expect(en.balance(poor, seedance)).toContain("/buy")
    expect(en.balance(new Balance({ credits: 5, freeTokens: 0 }), seedance)).not.toContain("/buy")
    expect(messagesFor("ru").balance(poor, seedance)).toBe(
      "Баланс: 0 кредитов и 2 бесплатных\nВидео с вашими настройками (Seedance, 12 с) стоит 3 кредита.\nНа видео не хватает: купить кредиты — /buy."
    )
  })

  it("every menu line fits Telegram's 3-256 characters", () => {
    for (const language of languages) {
      for (const description of Object.values(messagesFor(language).commandMenu)) {
        expect(description.length).toBeGreaterThanOrEqual(3)
        expect(description.length).toBeLessThanOrEqual(256)
      }
    }
  })
})
