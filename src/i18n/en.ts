/** English, also the language of users whose language the bot does not speak. */
import type { Balance } from "../domain/balance.js"
import type { Messages, VideoPrice } from "./messages.js"
import { minutesSeconds, pluralRules } from "./plural.js"

const plural = pluralRules("en", ["one", "other"])

const credits = (n: number) => `${n} ${plural(n, { one: "credit", other: "credits" })}`

const balanceLine = (balance: Balance) =>
  `Balance: ${credits(balance.credits)}${balance.freeTokens > 0 ? ` and ${balance.freeTokens} free` : ""}`

/** "A video with your settings (Kling 2.6, 5 s) costs 1 credit." */
const priceLine = (price: VideoPrice) =>
  `A video with your settings (${price.model}, ${price.durationSeconds} s) costs ${credits(price.cost)}.`

const historyStates: Record<string, string> = {
  delivered: "✅ delivered",
  refunded: "↩️ not made, refunded",
  failed: "❌ failed"
}

export const en: Messages = {
  credits,
  balanceLine,

  welcome: (name, freshGrant, balance, price) =>
    `Hi ${name ?? "there"}! I turn a photo into a short video. 🎬\n\n` +
    `How it works: send me a photo (or an image file) with a caption that describes the motion you want, ` +
    `for example “the waves roll in and the camera slowly pans left”. In a few minutes I send the video back.\n\n` +
    (freshGrant > 0 ? `🎁 You get ${freshGrant} free ${plural(freshGrant, { one: "credit", other: "credits" })} to start.\n` : "") +
    `${priceLine(price)}\n${balanceLine(balance)}\n/buy gets more credits; /help lists everything I can do.`,
  help: (price, presets) =>
    `Send a photo with a caption that describes the motion. ` +
    `${presets ? "Without a caption you pick one of my ready-made motions." : "Without a caption I use a gentle default motion."}\n` +
    `${priceLine(price)} Free credits are used first.\n\n` +
    `/settings: choose the model and duration (and so the price)\n/balance: your credits\n` +
    `/buy: buy credits with Telegram Stars\n/history: your last 10 videos\n` +
    `/invite: your invitation link\n/promo CODE: redeem a promo code\n` +
    `/terms, /privacy, /paysupport: the rules, your data, help from a person`,
  balance: (balance, price) =>
    `${balanceLine(balance)}\n${priceLine(price)}` +
    (balance.total < price.cost ? `\nThat is not enough for a video: /buy gets more credits.` : ""),
  captionTooLong: (model, limit, length) =>
    `Your caption has ${length} characters, but ${model} accepts at most ${limit}. ` +
    `Please shorten it and send the photo again. Nothing was charged.`,
  hint: "Please send me a photo (or an image file) with a caption that describes the motion you want. " +
    "Text, stickers, videos and voice messages can't be turned into a video. /help explains more.",
  notAnImage: "This file is not an image. Please send a photo, or a JPEG or PNG file.",
  unknownCommand: "Unknown command. /help lists what I can do.",
  insufficient: (cost, balance, packages) =>
    `You don't have enough credits for this video: it costs ${credits(cost)} and you have ${
      credits(balance.total)
    }.\n\nCredit packages:\n` +
    packages.map((p) => `• ${credits(p.credits)}: ${p.stars} ⭐`).join("\n"),
  buyButton: (n, stars) => `Buy ${credits(n)} for ${stars} ⭐`,
  tooManyInFlight: (limit) =>
    `You already have ${plural(limit, { one: "a video", other: `${limit} videos` })} in progress. ` +
    `Please wait until one is ready, then send the next photo. Nothing was charged.`,
  flood: (seconds) =>
    `You are sending messages too fast. Please wait ${seconds} ${
      plural(seconds, { one: "second", other: "seconds" })
    }; messages sent until then are ignored.`,
  floodToast: "Too many requests. Please wait a moment.",
  settings: (model, duration, cost) =>
    `Choose the model and duration for your next videos. Now: ${model}, ${duration} s (${credits(cost)} per video).`,
  settingsButton: (model, duration, cost, selected) => `${selected ? "✅ " : ""}${model} · ${duration} s · ${credits(cost)}`,
  settingsSaved: (model, duration, cost) =>
    `Saved: ${model}, ${duration} s, ${credits(cost)} per video. Your next photo uses it.`,
  historyEmpty: "You have no videos yet. Send a photo to make your first one.",
  historyHeader: "Your last videos:",
  historyLine: (when, model, duration, state) => `${when} · ${model} ${duration} s · ${historyStates[state] ?? "⏳ in progress"}`,
  staleButton: "This button no longer works. Send a new photo to start again.",
  cancelling: "Cancelling…",
  tooLateToCancel: "Too late to cancel: the video service is already making this video.",
  againStarting: "Starting a new video…",
  againAlreadyStarted: "Already started, one moment.",
  presetMenu: (cost) =>
    `No caption? Pick a motion with one tap (${credits(cost)} with your settings), or describe it in your own words:`,
  presetName: {
    gentle: "🍃 Gentle motion",
    zoom: "🔍 Zoom in",
    turn: "↪️ Turn around",
    wave: "👋 Wave",
    smile: "😊 Smile",
    drama: "🎬 Dramatic camera"
  },
  presetButton: (name, cost) => `${name} · ${credits(cost)}`,
  ownWordsButton: "✍️ Use my own words",
  ownWordsHint: "Send the photo again with a caption that describes the motion you want, for example: " +
    "\"she laughs and the wind moves her hair\".",
  presetStarting: (name) => `${name}: starting…`,
  presetChosen: (name, cost) => `${name} · ${credits(cost)}. Your video is on its way.`,
  presetAlreadyStarted: "This photo's video has already started.",
  privacy: "Privacy: we keep your Telegram id, name, language, your photos' Telegram file ids, captions and " +
    "the history of your videos and payments, only to make your videos and keep your balance. Photos are sent " +
    "to our video service (KIE.AI) to generate the video. We do not sell or share your data otherwise. " +
    "To have your data deleted, press “Contact support” and ask: we delete everything except the payment and " +
    "credit records the law requires us to keep, and tell you when it is done.",
  terms: "Terms: each video costs the credits shown in /settings; free credits are used first. When a video " +
    "cannot be made or delivered, its credits come back automatically. Credits are bought with Telegram Stars " +
    "and do not expire. Do not send photos you have no right to use, or content that breaks the law or " +
    "the video service's content policy.",
  paysupport: "Support: write your message now. If something went wrong with a purchase, say what happened " +
    "(date, amount in Stars). Your next message goes to a person on our team, and the answer comes here " +
    "within 48 hours, refunds included.",
  commandMenu: {
    start: "Start: how it works",
    help: "What I can do, and prices",
    settings: "Model and duration of your videos",
    balance: "Your credits",
    buy: "Buy credits with Telegram Stars",
    history: "Your last videos",
    invite: "Invite friends, earn credits",
    promo: "Redeem a promo code",
    paysupport: "Write to a person: payments, data",
    privacy: "Your data",
    terms: "The rules"
  },
  support: {
    contactButton: "✉️ Contact support",
    cancelButton: "✖️ Cancel",
    prompt: "Write your message to support now. Your next message goes to a person on our team; " +
      "the answer comes here within 48 hours.",
    cancelled: "Cancelled: nothing was sent to support.",
    received: "✅ Your message has reached our support team. The answer will come here.",
    unavailable: "Sorry, support cannot be reached through the bot right now. Please try again later.",
    answer: (text) => `💬 Support:\n${text}`,
    forgotten: "Your data has been deleted as you asked: your name, username, language, settings, the captions " +
      "and photos of your videos, and your support messages. We keep only your payments and the record of " +
      "your credits, as the law requires; your credits stay on your balance."
  },

  progress: {
    queued: (waitMs) => `⏳ In the queue…${waitMs > 0 ? ` Estimated wait: ${minutesSeconds(waitMs)}.` : ""}`,
    paused: (cost) =>
      `⏸ Video generation is temporarily unavailable. ${
        plural(cost, { one: "Your credit is safe", other: `Your ${cost} credits are safe` })
      }; we will continue automatically.`,
    generating: (elapsedMs) =>
      `🎬 Generating your video… ${minutesSeconds(elapsedMs)} elapsed. This usually takes a few minutes.`,
    slow: (elapsedMs) =>
      `🎬 Generating your video… ${minutesSeconds(elapsedMs)} elapsed. It is taking longer than usual; still on it.`,
    done: "✅ Done!",
    ended: "⚠️ That did not work."
  },
  buttons: {
    generateAgain: "🔁 Generate again",
    tryAgain: "🔁 Try again",
    cancel: "✖️ Cancel"
  },
  videoCaption: (balance) => `Your video is ready! 🎉\n${balanceLine(balance)}`,
  videoTooBig: (url, sizeBytes, balance) =>
    `Your video is ready, but at ${Math.round(sizeBytes / 1_000_000)} MB it is too large for Telegram. ` +
    `Download it here (the link works for about a day):\n${url}\n${balanceLine(balance)}`,
  jobFailed: {
    KieTransientError: "The video service is overloaded right now and we could not finish your video.",
    KieOperatorError: "Video generation is temporarily unavailable on our side. We are on it.",
    KieUnknownError: "Something went wrong while generating your video. Sorry about that.",
    Deadline: "Your video took far longer than it should, so we stopped waiting.",
    PhotoUnavailable:
      "We could not download your photo from Telegram (it may be too large, over 20 MB). Please send it again as a photo.",
    DeliveryFailed: "Your video was made but we could not send it to this chat.",
    Cancelled: "Cancelled before it reached the video service.",
    InternalError: "Something went wrong on our side while making your video, and we had to stop. Sorry about that."
  },
  inputRefused: {
    ContentPolicy:
      "The video service refused this photo or prompt under its content policy. Please try another photo or wording.",
    UnusableImage:
      "The video service could not use this photo (format, size or content). Please send another photo, JPEG or PNG.",
    PromptTooLong: "The caption is too long for this model. Please shorten it.",
    PromptLanguage: "The video service only accepts English prompts right now. Please write the caption in English.",
    PromptRejected: "The video service refused this request. Please try another photo or prompt."
  },
  creditsBack: (cost) =>
    plural(cost, { one: "Your credit is back on your balance.", other: `Your ${cost} credits are back on your balance.` }),
  pressTryAgain: "Press “Try again” to give it another go.",
  updateSetAside: "Sorry, an error on our side kept me from handling your last message, so I skipped it. " +
    "Please try again, perhaps a little differently. If it keeps happening, write to /paysupport.",

  payments: {
    buyIntro: (balance, price) => `Buy credits with Telegram Stars ⭐\n${priceLine(price)}\n${balanceLine(balance)}`,
    invoiceTitle: (offer) => credits(offer.credits),
    invoiceDescription: (offer) =>
      `${credits(offer.credits)} for photo-to-video. They never expire; the credits of a video that cannot be made come back.`,
    invoiceLabel: (offer) => credits(offer.credits),
    packageGone: "That package is no longer on sale. See /buy.",
    refusal: {
      "invalid-invoice": "This invoice was not issued by the bot. Use /buy to get a new one.",
      "package-gone": "This package is no longer on sale. Use /buy to see the current ones.",
      "price-changed": "The price of this package has changed. Use /buy for a new invoice.",
      "wrong-currency": "This invoice can only be paid in Telegram Stars.",
      "wrong-amount": "The amount does not match the invoice. Use /buy for a new one.",
      "not-your-invoice": "This invoice was made for another user. Use /buy to get your own."
    },
    thanks: (n, balance, price) =>
      `Thank you! ${credits(n)} added.\n${balanceLine(balance)}. ${priceLine(price)} Send a photo to start.`,
    creditedLate: (n, balance) => `We found your payment and added ${credits(n)}. ${balanceLine(balance)}.`,
    paymentProblem: "Your payment arrived but we could not match it to a package. The admins have been told; write /paysupport.",
    refunded: (stars, balance) => `${stars} ⭐ have been refunded to you. ${balanceLine(balance)}.`
  },

  invite: {
    offer: (o) =>
      `🤝 Invite friends with your personal link:\n${o.link}\n\n` +
      `Your friend gets ${credits(o.friendGets)} free to start. ` +
      (o.bonus > 0
        ? `You get ${credits(o.bonus)} free when they ${
          o.trigger === "purchase" ? "make their first purchase" : "receive their first video"
        } (up to ${plural(o.dailyCap, { one: "one friend", other: `${o.dailyCap} friends` })} a day). ` +
          `Only people who have never used the bot count.`
        : `Invitations earn no bonus at the moment.`) +
      `\n\nInvited so far: ${o.invited}, of them ${o.converted} qualified; you earned ${credits(o.earned)}.`,
    joined: (trigger) =>
      `🤝 You came through a friend's invitation. Welcome!` +
      (trigger === undefined
        ? ""
        : ` Your friend gets a bonus when you ${trigger === "purchase" ? "make your first purchase" : "receive your first video"}.`),
    bonusReceived: (n, balance) => `🎉 A friend you invited just qualified: ${credits(n)} added for you.\n${balanceLine(balance)}`
  },

  promo: {
    usage: "Send the code after the command, for example: /promo SPRING25",
    redeemed: (n, balance) => `🎁 Promo code accepted: ${credits(n)} added.\n${balanceLine(balance)}`,
    refused: {
      unknown: (code) => `There is no promo code “${code}”. Check the spelling and try again.`,
      "already-redeemed": (code) => `You have already used the promo code “${code}”. Each code works once per person.`,
      disabled: (code) => `The promo code “${code}” has been withdrawn and no longer works.`,
      expired: (code) => `The promo code “${code}” has expired.`,
      exhausted: (code) => `The promo code “${code}” has been used up: all its redemptions are taken.`
    }
  },

  stats: {
    title: (today) => `📊 Stats (UTC), today ${today}`,
    today: "Today",
    week: (since) => `7 days (since ${since})`,
    users: "users: new",
    active: "active",
    jobs: "jobs",
    delivered: "delivered",
    refunded: "refunded",
    failed: "failed",
    running: "running",
    success: "success",
    revenue: "revenue",
    payments: "payments",
    credits: "credits sold",
    kie: "KIE tasks/video",
    generation: "generation p50/p95",
    failures: "failures",
    invites: "invited",
    converted: "qualified",
    promo: "promo redemptions"
  }
}
