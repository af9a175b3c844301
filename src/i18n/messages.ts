/**
 * The type of a locale: every text the bot sends a user. Each language's module
 * (./en.ts, ./ru.ts) is declared as `Messages`, so a missing text is a compile error.
 * Operators' texts are English only (./operator.ts).
 */
import type { Balance } from "../domain/balance.js"
import type { KieUserError } from "../errors/kie-errors.js"
import type { MotionPresetId } from "../kie/motion-presets.js"
import type { Refusal } from "../payments/packages.js"
import type { JobFailure } from "../domain/job-failure.js"
import type { PromoRefusalReason } from "../errors/growth-errors.js"
import type { UserCommand } from "../telegram/commands.js"

/** What /invite shows: the link, what each side gets, and the inviter's results so far. */
export interface InviteOffer {
  readonly link: string
  /** Credits the inviter gets per qualifying friend; 0 when invitations earn nothing now. */
  readonly bonus: number
  readonly trigger: "purchase" | "delivered"
  /** Free credits every new user gets, the invited friend included. */
  readonly friendGets: number
  readonly dailyCap: number
  readonly invited: number
  readonly converted: number
  readonly earned: number
}

export interface PackageOffer {
  readonly credits: number
  readonly stars: number
}

/** What one video costs with the user's current settings (/settings). */
export interface VideoPrice {
  readonly model: string
  readonly durationSeconds: number
  readonly cost: number
}

/** Every job failure but KIE's refusal of the input, which is worded by its reason. */
export type JobFailureTag = Exclude<JobFailure["_tag"], "KieUserError">
export type InputRefusalReason = KieUserError["reason"]

export interface Messages {
  /** "5 credits": the one unit users buy, hold and spend (free ones included). */
  readonly credits: (n: number) => string
  readonly balanceLine: (balance: Balance) => string

  // Commands and answers
  /** `name` is the user's first name, when Telegram gives one. */
  readonly welcome: (name: string | undefined, freshGrant: number, balance: Balance, price: VideoPrice) => string
  /** `presets`: a photo without a caption gets the preset menu (BARE_PHOTO). */
  readonly help: (price: VideoPrice, presets: boolean) => string
  /** Points to /buy when the balance does not pay for one more video. */
  readonly balance: (balance: Balance, price: VideoPrice) => string
  readonly captionTooLong: (model: string, limit: number, length: number) => string
  readonly hint: string
  readonly notAnImage: string
  readonly unknownCommand: string
  readonly insufficient: (cost: number, balance: Balance, packages: ReadonlyArray<PackageOffer>) => string
  readonly buyButton: (credits: number, stars: number) => string
  readonly tooManyInFlight: (limit: number) => string
  readonly flood: (seconds: number) => string
  readonly floodToast: string
  readonly settings: (model: string, durationSeconds: number, cost: number) => string
  readonly settingsButton: (model: string, durationSeconds: number, cost: number, selected: boolean) => string
  readonly settingsSaved: (model: string, durationSeconds: number, cost: number) => string
  readonly historyEmpty: string
  readonly historyHeader: string
  /** One job of /history; `state` is the job's stored state. */
  readonly historyLine: (when: string, model: string, durationSeconds: number, state: string) => string
  readonly staleButton: string
  readonly cancelling: string
  readonly tooLateToCancel: string
  readonly againStarting: string
  readonly againAlreadyStarted: string

  // One-tap motion presets, for a photo without a caption
  readonly presetMenu: (cost: number) => string
  readonly presetName: Readonly<Record<MotionPresetId, string>>
  readonly presetButton: (name: string, cost: number) => string
  readonly ownWordsButton: string
  readonly ownWordsHint: string
  readonly presetStarting: (name: string) => string
  readonly presetChosen: (name: string, cost: number) => string
  readonly presetAlreadyStarted: string
  readonly privacy: string
  readonly terms: string
  /** The answer to /paysupport: it opens a support request (the next message goes to a person). */
  readonly paysupport: string
  /** The menu Telegram clients show (src/telegram/commands.ts): one line per user command. */
  readonly commandMenu: { readonly [C in UserCommand]: string }

  /** The support relay (src/telegram/features/support.ts). */
  readonly support: {
    readonly contactButton: string
    readonly cancelButton: string
    /** After the "Contact support" button: the next message goes to a person. */
    readonly prompt: string
    readonly cancelled: string
    readonly received: string
    /** No admin could be reached. */
    readonly unavailable: string
    /** An admin's answer, as the bot sends it. */
    readonly answer: (text: string) => string
    /** After an admin's /forget. */
    readonly forgotten: string
  }

  // A job's messages
  readonly progress: {
    readonly queued: (waitMs: number) => string
    /** KIE is paused for the operator; `cost` is what the job holds. */
    readonly paused: (cost: number) => string
    readonly generating: (elapsedMs: number) => string
    readonly slow: (elapsedMs: number) => string
    readonly done: string
    readonly ended: string
  }
  readonly buttons: {
    readonly generateAgain: string
    readonly tryAgain: string
    readonly cancel: string
  }
  readonly videoCaption: (balance: Balance) => string
  readonly videoTooBig: (url: string, sizeBytes: number, balance: Balance) => string
  readonly jobFailed: { readonly [Tag in JobFailureTag]: string }
  readonly inputRefused: { readonly [Reason in InputRefusalReason]: string }
  readonly creditsBack: (cost: number) => string
  readonly pressTryAgain: string
  /** An update that kept failing was set aside (src/telegram/update-failures.ts). */
  readonly updateSetAside: string

  readonly payments: {
    readonly buyIntro: (balance: Balance, price: VideoPrice) => string
    readonly invoiceTitle: (offer: PackageOffer) => string
    readonly invoiceDescription: (offer: PackageOffer) => string
    readonly invoiceLabel: (offer: PackageOffer) => string
    readonly packageGone: string
    readonly refusal: { readonly [R in Refusal]: string }
    readonly thanks: (credits: number, balance: Balance, price: VideoPrice) => string
    readonly creditedLate: (credits: number, balance: Balance) => string
    readonly paymentProblem: string
    readonly refunded: (stars: number, balance: Balance) => string
  }

  readonly invite: {
    readonly offer: (offer: InviteOffer) => string
    /** Told to the inviter when a friend's first purchase (or video) earned them the bonus. */
    readonly bonusReceived: (credits: number, balance: Balance) => string
    /** To a new user who came through an invitation; `trigger` when the inviter earns a bonus. */
    readonly joined: (trigger: "purchase" | "delivered" | undefined) => string
  }

  readonly promo: {
    readonly usage: string
    readonly redeemed: (credits: number, balance: Balance) => string
    readonly refused: { readonly [R in PromoRefusalReason]: (code: string) => string }
  }

  /** The labels of an admin's /stats. */
  readonly stats: {
    readonly title: (today: string) => string
    readonly today: string
    readonly week: (since: string) => string
    readonly users: string
    readonly active: string
    readonly jobs: string
    readonly delivered: string
    readonly refunded: string
    readonly failed: string
    readonly running: string
    readonly success: string
    readonly revenue: string
    readonly payments: string
    readonly credits: string
    readonly kie: string
    readonly generation: string
    readonly failures: string
    readonly invites: string
    readonly converted: string
    readonly promo: string
  }
}
