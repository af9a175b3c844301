/**
 * What an admin's broadcast sends: a text, a photo or a video (by Telegram file id) with its
 * text or caption, the formatting Telegram gave it, and URL buttons.
 */
export type BroadcastKind = "text" | "photo" | "video"

export interface BroadcastButton {
  readonly text: string
  readonly url: string
}

export interface BroadcastContent {
  readonly kind: BroadcastKind
  /** The text, or the caption ("" for none). */
  readonly body: string
  /** The message's entities (bold, links…) as Telegram sent them, as JSON ("[]" for none). */
  readonly entitiesJson: string
  /** The photo's or the video's file id. */
  readonly fileId: string | undefined
  /** Rows of URL buttons. */
  readonly buttons: ReadonlyArray<ReadonlyArray<BroadcastButton>>
}

/** Where a campaign is: `draft` until the admin confirms; `done` and `cancelled` are final. */
export type BroadcastState = "draft" | "running" | "paused" | "cancelled" | "done"

/** The outcome of one recipient: sent, blocked (Telegram answered 403) or failed otherwise. */
export type RecipientOutcome = "sent" | "blocked" | "failed"
