/**
 * Updates out: one ordered queue of pending updates, handed to the bot by `getUpdates`
 * (long polling, confirmation by offset, one poller at a time) or POSTed to a webhook (secret
 * header, retried when the receiver fails, sequential per chat, concurrent across chats up to
 * `max_connections`). `allowed_updates` filters updates when they are created, as on Telegram.
 */
import type { Update } from "grammy/types"
import { type ApiError, badRequest, conflict } from "./api-error.js"
import { unixTime } from "./ids.js"

export type UpdateType = Exclude<keyof Update, "update_id">
export type UpdateBody = Omit<Update, "update_id">

/** Without `allowed_updates`, Telegram sends everything but these. */
const OPT_IN_ONLY: ReadonlyArray<string> = ["chat_member", "message_reaction", "message_reaction_count"]

export interface Delivery {
  readonly update: Update
  readonly via: "getUpdates" | "webhook"
  readonly at: number
}

export interface WebhookOptions {
  /** Delay before the first retry of a failed webhook delivery; doubles on each retry. */
  readonly retryDelayMs: number
  /** Attempts per update before it is dropped (Telegram gives up "after a reasonable amount"). */
  readonly maxAttempts: number
  /** How long a webhook request may take before it counts as failed. */
  readonly timeoutMs: number
}

interface WebhookConfig {
  readonly url: string
  readonly secretToken: string | undefined
  readonly maxConnections: number
  readonly ipAddress: string | undefined
  lastErrorDate: number | undefined
  lastErrorMessage: string | undefined
  /** Changes on every setWebhook/deleteWebhook so stale delivery loops stop. */
  readonly generation: number
}

interface Entry {
  readonly update: Update
  inFlight: boolean
}

interface Poller {
  readonly finish: (result: Array<Update> | ApiError) => void
}

export interface GetUpdatesParams {
  readonly offset?: number
  readonly limit?: number
  readonly timeout?: number
  readonly allowed_updates?: ReadonlyArray<string>
}

const updateType = (update: UpdateBody): UpdateType => Object.keys(update).find((k) => k !== "update_id") as UpdateType

/** The key that serialises webhook deliveries: the chat (or the user for queries). */
const laneKey = (update: UpdateBody): string => {
  const body = (update as Record<string, unknown>)[updateType(update)] as
    | { chat?: { id: number }; from?: { id: number }; message?: { chat?: { id: number } } }
    | undefined
  const id = body?.chat?.id ?? body?.message?.chat?.id ?? body?.from?.id
  return id === undefined ? "global" : String(id)
}

export class Updates {
  private nextUpdateId: number
  private queue: Array<Entry> = []
  private allowed: ReadonlySet<string> | undefined
  private poller: Poller | undefined
  private webhook: WebhookConfig | undefined
  private webhookGeneration = 0
  private busyLanes = new Set<string>()
  private inFlight = 0
  private closed = false
  private readonly log: Array<Delivery> = []
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly shutdown = new AbortController()
  private pollLimit = 100
  private pollListeners: Array<() => void> = []

  constructor(
    private readonly options: WebhookOptions,
    /** Executes a method returned in a webhook response body (webhook reply). */
    private readonly executeWebhookReply: (method: string, params: Record<string, unknown>) => Promise<void>,
    firstUpdateId: number = 100_000_000 + Math.floor(Math.random() * 800_000_000)
  ) {
    this.nextUpdateId = firstUpdateId
  }

  /**
   * Queues an update unless `allowed_updates` excludes its type. With `copies: 2` the same update
   * (same update_id) is queued twice, as a redelivery would look.
   */
  push(body: UpdateBody, copies = 1): Update | undefined {
    if (this.closed) return undefined
    const type = updateType(body)
    if (this.allowed === undefined ? OPT_IN_ONLY.includes(type) : !this.allowed.has(type)) return undefined
    const update = { update_id: this.nextUpdateId++, ...body } as Update
    for (let i = 0; i < copies; i++) this.queue.push({ update, inFlight: false })
    this.wake()
    return update
  }

  get pendingCount(): number {
    return this.queue.length
  }

  /** Whether the update still waits for the bot: not yet confirmed (getUpdates offset) or acknowledged (webhook 2xx). */
  isPending(updateId: number): boolean {
    return this.queue.some((entry) => entry.update.update_id === updateId)
  }

  /** Every update handed to the bot, in order (a redelivered update appears twice). */
  deliveries(): ReadonlyArray<Delivery> {
    return this.log
  }

  getUpdates(params: GetUpdatesParams, cancelled: Promise<void>): Promise<Array<Update>> {
    if (this.webhook !== undefined) {
      return Promise.reject(
        conflict("can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
      )
    }
    this.setAllowed(params.allowed_updates)
    const offset = params.offset ?? 0
    if (offset > 0) this.queue = this.queue.filter((e) => e.update.update_id >= offset)
    else if (offset < 0) this.queue = this.queue.slice(offset)
    const limit = Math.min(100, Math.max(1, params.limit ?? 100))
    const timeoutMs = Math.max(0, params.timeout ?? 0) * 1000

    this.poller?.finish(conflict("terminated by other getUpdates request; make sure that only one bot instance is running"))
    this.poller = undefined
    if (this.queue.length > 0 || timeoutMs === 0 || this.closed) return Promise.resolve(this.take(limit))

    return new Promise((resolve, reject) => {
      const poller: Poller = {
        finish: (result) => {
          clearTimeout(timer)
          this.timers.delete(timer)
          if (this.poller === poller) this.poller = undefined
          if (Array.isArray(result)) resolve(result)
          else reject(result)
        }
      }
      const timer = setTimeout(() => poller.finish(this.take(limit)), timeoutMs)
      this.timers.add(timer)
      this.poller = poller
      this.pollLimit = limit
      const listeners = this.pollListeners
      this.pollListeners = []
      for (const listener of listeners) listener()
      void cancelled.then(() => {
        if (this.poller === poller) {
          this.poller = undefined
          clearTimeout(timer)
          this.timers.delete(timer)
        }
      })
    })
  }

  /** Resolves once a long-polling getUpdates is waiting (at once if one is). */
  waitForPoller(): Promise<void> {
    if (this.poller !== undefined) return Promise.resolve()
    return new Promise((resolve) => this.pollListeners.push(resolve))
  }

  get polling(): boolean {
    return this.poller !== undefined
  }

  private take(limit: number): Array<Update> {
    const batch = this.queue.slice(0, limit).map((e) => e.update)
    const at = Date.now()
    for (const update of batch) this.log.push({ update, via: "getUpdates", at })
    return batch
  }

  setWebhook(input: {
    readonly url: string
    readonly secret_token?: string
    readonly max_connections?: number
    readonly allowed_updates?: ReadonlyArray<string>
    readonly drop_pending_updates?: boolean
    readonly ip_address?: string
  }): void {
    if (input.url === "") return this.deleteWebhook(input.drop_pending_updates ?? false)
    let url: URL
    try {
      url = new URL(input.url)
    } catch {
      throw badRequest("bad webhook: invalid URL")
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw badRequest("bad webhook: HTTPS url must be provided for webhook")
    const secret = input.secret_token
    if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) {
      throw badRequest("secret token contains unallowed characters")
    }
    const maxConnections = input.max_connections ?? 40
    if (maxConnections < 1 || maxConnections > 100) throw badRequest("bad webhook: max_connections must be between 1 and 100")
    this.setAllowed(input.allowed_updates)
    if (input.drop_pending_updates === true) this.queue = []
    this.poller?.finish(conflict("terminated by setWebhook request"))
    this.webhook = {
      url: input.url,
      secretToken: secret,
      maxConnections,
      ipAddress: input.ip_address,
      lastErrorDate: undefined,
      lastErrorMessage: undefined,
      generation: ++this.webhookGeneration
    }
    this.wake()
  }

  deleteWebhook(dropPending: boolean): void {
    this.webhook = undefined
    this.webhookGeneration++
    if (dropPending) this.queue = this.queue.filter((e) => e.inFlight)
  }

  webhookInfo(): Record<string, unknown> {
    const hook = this.webhook
    if (hook === undefined) return { url: "", has_custom_certificate: false, pending_update_count: this.queue.length }
    return {
      url: hook.url,
      has_custom_certificate: false,
      pending_update_count: this.queue.length,
      max_connections: hook.maxConnections,
      ...(hook.ipAddress === undefined ? {} : { ip_address: hook.ipAddress }),
      ...(hook.lastErrorDate === undefined ? {} : { last_error_date: hook.lastErrorDate }),
      ...(hook.lastErrorMessage === undefined ? {} : { last_error_message: hook.lastErrorMessage }),
      ...(this.allowed === undefined ? {} : { allowed_updates: [...this.allowed] })
    }
  }

  close(): void {
    this.closed = true
    this.poller?.finish([])
    this.webhook = undefined
    this.webhookGeneration++
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.shutdown.abort()
  }

  private setAllowed(allowed: ReadonlyArray<string> | undefined): void {
    if (allowed === undefined) return
    this.allowed = allowed.length === 0 ? undefined : new Set(allowed)
  }

  private wake(): void {
    if (this.poller !== undefined && this.queue.length > 0) this.poller.finish(this.take(this.pollLimit))
    if (this.webhook !== undefined) this.pump(this.webhook)
  }

  /** Starts deliveries for the oldest update of every idle chat, within max_connections. */
  private pump(hook: WebhookConfig): void {
    const seen = new Set<string>()
    for (const entry of this.queue) {
      if (this.inFlight >= hook.maxConnections) return
      const lane = laneKey(entry.update)
      if (seen.has(lane)) continue
      seen.add(lane)
      if (entry.inFlight || this.busyLanes.has(lane)) continue
      entry.inFlight = true
      this.busyLanes.add(lane)
      this.inFlight++
      void this.deliver(hook, entry).finally(() => {
        entry.inFlight = false
        this.busyLanes.delete(lane)
        this.inFlight--
        if (this.webhook !== undefined) this.pump(this.webhook)
      })
    }
  }

  private async deliver(hook: WebhookConfig, entry: Entry): Promise<void> {
    let delay = this.options.retryDelayMs
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      if (this.webhook?.generation !== hook.generation) return
      const error = await this.post(hook, entry.update)
      if (error === undefined) {
        this.log.push({ update: entry.update, via: "webhook", at: Date.now() })
        this.queue = this.queue.filter((e) => e !== entry)
        return
      }
      hook.lastErrorDate = unixTime()
      hook.lastErrorMessage = error
      if (attempt < this.options.maxAttempts) {
        await this.sleep(delay)
        delay *= 2
      }
    }
    // Given up: Telegram drops the update after enough failed attempts.
    this.queue = this.queue.filter((e) => e !== entry)
  }

  /** One POST of the update; returns the error message when the receiver did not answer 2xx. */
  private async post(hook: WebhookConfig, update: Update): Promise<string | undefined> {
    try {
      const response = await fetch(hook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(hook.secretToken === undefined ? {} : { "X-Telegram-Bot-Api-Secret-Token": hook.secretToken })
        },
        body: JSON.stringify(update),
        signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), this.shutdown.signal])
      })
      const text = await response.text()
      if (response.status < 200 || response.status > 299) {
        return `Wrong response from the webhook: ${response.status} ${response.statusText}`
      }
      await this.webhookReply(text)
      return undefined
    } catch (error) {
      return error instanceof Error && error.name === "TimeoutError" ? "Read timeout expired" : "Connection refused"
    }
  }

  private async webhookReply(text: string): Promise<void> {
    if (text.trim() === "") return
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      return
    }
    if (typeof body !== "object" || body === null) return
    const { method, ...params } = body as Record<string, unknown>
    if (typeof method === "string") await this.executeWebhookReply(method, params).catch(() => undefined)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        resolve()
      }, ms)
      this.timers.add(timer)
    })
  }
}
