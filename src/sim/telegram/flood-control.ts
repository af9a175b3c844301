/**
 * Optional flood control like Telegram's: token buckets per chat and across chats for calls that
 * post or edit messages; an empty bucket answers 429 with the seconds until a token is back.
 * Off unless configured, so tests see 429s only when they ask for them.
 */
import { type ApiError, tooManyRequests } from "./api-error.js"

export interface FloodControlOptions {
  /** Messages per second per chat (Telegram: about 1, short bursts tolerated). */
  readonly perChatPerSecond?: number
  readonly perChatBurst?: number
  /** Messages per second across all chats (Telegram: about 30 without paid broadcasts). */
  readonly globalPerSecond?: number
  readonly globalBurst?: number
}

class Bucket {
  private tokens: number
  private updatedAt: number
  constructor(private readonly rate: number, private readonly burst: number, now: number) {
    this.tokens = burst
    this.updatedAt = now
  }
  /** Seconds to wait before a token is available, 0 when one is. */
  wait(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.rate)
    this.updatedAt = now
    return this.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - this.tokens) / this.rate))
  }
  take(): void {
    this.tokens -= 1
  }
}

const LIMITED = /^(send(?!ChatAction)|edit|copyMessage|forwardMessage)/i

export class FloodControl {
  private readonly chats = new Map<number, Bucket>()
  private readonly global: Bucket | undefined

  constructor(private readonly options: FloodControlOptions, private readonly now: () => number = Date.now) {
    this.global = options.globalPerSecond === undefined
      ? undefined
      : new Bucket(options.globalPerSecond, options.globalBurst ?? options.globalPerSecond, now())
  }

  /** Takes a token for the call or returns the 429 to answer. */
  check(method: string, chatId: number | undefined): ApiError | undefined {
    if (!LIMITED.test(method)) return undefined
    const now = this.now()
    const chat = chatId === undefined || this.options.perChatPerSecond === undefined ? undefined : this.chatBucket(chatId, now)
    const wait = Math.max(chat?.wait(now) ?? 0, this.global?.wait(now) ?? 0)
    if (wait > 0) return tooManyRequests(wait)
    chat?.take()
    this.global?.take()
    return undefined
  }

  private chatBucket(chatId: number, now: number): Bucket {
    let bucket = this.chats.get(chatId)
    if (bucket === undefined) {
      const rate = this.options.perChatPerSecond!
      bucket = new Bucket(rate, this.options.perChatBurst ?? Math.max(1, rate), now)
      this.chats.set(chatId, bucket)
    }
    return bucket
  }
}
