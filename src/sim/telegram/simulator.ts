/**
 * TelegramSimulator: a Bot API server on loopback with simulated users, for tests, the sandbox
 * and benchmarks. Start it, point grammY at `simulator.url` (apiRoot), act as users, and read what
 * the bot did from the call log.
 */
import type { BotCommand, Message, Update, User, UserFromGetMe } from "grammy/types"
import type { World } from "./bot-methods.js"
import { CallbackQueries, type CallbackAnswer } from "./callback-queries.js"
import { type BotCall, CallLog } from "./call-log.js"
import { Chats, type NewUser, type StoredMessage } from "./chats.js"
import { BotCommands } from "./commands.js"
import { handleControl } from "./control.js"
import { type Fault, Faults, type FaultSpec } from "./faults.js"
import { seededStream } from "../kie/faults.js"
import { FileDownloads, FileStore, type StoredFile } from "./files.js"
import { FloodControl, type FloodControlOptions } from "./flood-control.js"
import { randomToken } from "./ids.js"
import {
  type Invoice,
  type PastPayment,
  type PreCheckoutAnswer,
  Payments,
  type StarTransaction,
  type SuccessfulPaymentDelivery
} from "./payments.js"
import { dispatch, listen, type Pipeline, type RunningServer } from "./server.js"
import { SimUser } from "./sim-user.js"
import { BotApiSpec } from "./spec-validation.js"
import { type Delivery, type UpdateType, Updates, type WebhookOptions } from "./updates.js"

export interface TelegramSimulatorOptions {
  /** Bot token; default a fresh `<botId>:<random>` token. */
  readonly token?: string
  readonly bot?: { readonly id?: number; readonly username?: string; readonly first_name?: string }
  /** Loopback host and port to listen on; port 0 (default) picks a free port. */
  readonly host?: string
  readonly port?: number
  /** Path of the Bot API spec JSON; default the copy next to this file. */
  readonly specPath?: string
  /** How long the bot has to answer a pre_checkout_query (Telegram: 10 s). */
  readonly preCheckoutTimeoutMs?: number
  readonly webhook?: Partial<WebhookOptions>
  /** Let sendVideo/sendPhoto by URL fetch non-loopback hosts (off: the simulator stays offline). */
  readonly allowNonLoopbackUrls?: boolean
  /** Keep the bytes of files the bot uploads (default true; turn off for long benchmarks). */
  readonly retainBotUploads?: boolean
  /** What happens to successful_payment updates unless a payment says otherwise. */
  readonly successfulPaymentDelivery?: SuccessfulPaymentDelivery
  readonly firstUpdateId?: number
  /** Emulate Telegram's flood limits with 429s (off by default). */
  readonly floodControl?: FloodControlOptions
  /** Seed of the stream that decides probabilistic faults (`FaultSpec.probability`); default unseeded. */
  readonly faultSeed?: number
}

export class TelegramSimulator {
  readonly token: string
  readonly botInfo: UserFromGetMe
  readonly calls = new CallLog()
  readonly faults: Faults
  /** The bot's file downloads: set `delayMs` for a slow file server, read `peak` and `total`. */
  readonly fileDownloads = new FileDownloads()
  /** Default for successful_payment delivery; tests may change it at any time. */
  successfulPaymentDelivery: SuccessfulPaymentDelivery

  private readonly spec: BotApiSpec
  private readonly chats: Chats
  private readonly files = new FileStore()
  private readonly updates: Updates
  private readonly payments: Payments
  private readonly callbacks = new CallbackQueries()
  private readonly commands: BotCommands
  private readonly users = new Map<number, SimUser>()
  private readonly pipeline: Pipeline
  private server: RunningServer | undefined

  constructor(private readonly options: TelegramSimulatorOptions = {}) {
    const botId = options.bot?.id ?? 7_000_000_000 + Math.floor(Math.random() * 1_000_000)
    this.token = options.token ?? `${botId}:AA${randomToken(24)}`
    this.botInfo = {
      id: botId,
      is_bot: true,
      first_name: options.bot?.first_name ?? "Simulated Bot",
      username: options.bot?.username ?? "simulated_bot",
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false
    }
    this.faults = new Faults(options.faultSeed === undefined ? Math.random : seededStream(options.faultSeed))
    this.successfulPaymentDelivery = options.successfulPaymentDelivery ?? "once"
    this.spec = BotApiSpec.load(options.specPath)
    this.chats = new Chats(this.botInfo)
    this.commands = new BotCommands(this.chats)
    this.updates = new Updates(
      {
        retryDelayMs: options.webhook?.retryDelayMs ?? 100,
        maxAttempts: options.webhook?.maxAttempts ?? 10,
        timeoutMs: options.webhook?.timeoutMs ?? 60_000
      },
      async (method, params) => {
        await dispatch(this.pipeline, method, async () => ({ params, uploads: new Map() }), { cancelled: new Promise(() => {}) })
      },
      options.firstUpdateId
    )
    this.payments = new Payments(this.chats, this.updates, options.preCheckoutTimeoutMs ?? 10_000)
    const world: World = {
      bot: this.botInfo,
      chats: this.chats,
      files: this.files,
      updates: this.updates,
      payments: this.payments,
      callbacks: this.callbacks,
      urlPolicy: {
        allowNonLoopback: options.allowNonLoopbackUrls ?? false,
        retainBotUploads: options.retainBotUploads ?? true
      },
      commands: this.commands
    }
    this.pipeline = {
      world,
      spec: this.spec,
      token: this.token,
      log: this.calls,
      faults: this.faults,
      flood: options.floodControl === undefined ? undefined : new FloodControl(options.floodControl),
      downloads: this.fileDownloads,
      control: (method, url, body) => handleControl(this, method, url, body)
    }
  }

  async start(): Promise<this> {
    if (this.server === undefined) {
      this.server = await listen(this.pipeline, this.options.host ?? "127.0.0.1", this.options.port ?? 0)
    }
    return this
  }

  async stop(): Promise<void> {
    this.updates.close()
    this.payments.close()
    const server = this.server
    this.server = undefined
    await server?.close()
  }

  /** The apiRoot for grammY: `new Api(token, { apiRoot: simulator.url })`. */
  get url(): string {
    if (this.server === undefined) throw new Error("TelegramSimulator is not started")
    return this.server.url
  }

  /** The download URL of a file_path, as https://api.telegram.org/file/bot<token>/<path>. */
  fileUrl(filePath: string): string {
    return `${this.url}/file/bot${this.token}/${filePath}`
  }

  get specVersion(): string {
    return this.spec.version
  }

  // Users

  createUser(input: NewUser): SimUser {
    const user = new SimUser(this.chats.addUser(input), {
      chats: this.chats,
      files: this.files,
      updates: this.updates,
      payments: this.payments,
      callbacks: this.callbacks,
      defaultPaymentDelivery: () => this.successfulPaymentDelivery
    })
    this.users.set(user.id, user)
    return user
  }

  user(id: number): SimUser {
    const user = this.users.get(id)
    if (user === undefined) throw new Error(`no simulated user ${id}`)
    return user
  }

  allUsers(): Array<User> {
    return this.chats.users()
  }

  /** Every message of a private chat, oldest first, deleted ones flagged. */
  chatHistory(chatId: number): Array<StoredMessage> {
    return this.chats.history(chatId)
  }

  file(fileId: string): StoredFile | undefined {
    return this.files.get(fileId)
  }

  // What the bot did

  /** Successful calls of a method (any case), in order. */
  callsOf(method: string): Array<BotCall> {
    return this.calls.all().filter((c) => c.method.toLowerCase() === method.toLowerCase())
  }

  /** Messages the bot sent successfully (sendMessage, sendVideo, sendInvoice, ...), in order. */
  sentMessages(chatId?: number): Array<Message> {
    return this.calls.all()
      .filter((c) => c.outcome.ok && /^send(?!ChatAction)/i.test(c.method))
      .map((c) => (c.outcome as { result: Message }).result)
      .filter((m) => typeof m === "object" && m !== null && (chatId === undefined || m.chat.id === chatId))
  }

  /**
   * Waits for a call of `method` matching `predicate`, considering calls after `since`
   * (default: all calls so far, so a call that already happened resolves at once).
   */
  waitForCall(
    method: string,
    options: { predicate?: (call: BotCall) => boolean; since?: number; timeoutMs?: number } = {}
  ): Promise<BotCall> {
    const lower = method.toLowerCase()
    return this.calls.waitFor(
      (c) => c.method.toLowerCase() === lower && (options.predicate?.(c) ?? true),
      options.since ?? 0,
      options.timeoutMs ?? 10_000
    )
  }

  callbackAnswers(): Array<CallbackAnswer> {
    return this.callbacks.answers()
  }

  /** Resolves with the bot's answer to a callback query (at once if it already answered). */
  waitForCallbackAnswer(queryId: string, timeoutMs = 10_000): Promise<CallbackAnswer> {
    return this.callbacks.waitForAnswer(queryId, timeoutMs)
  }

  unansweredCallbackQueries(): Array<string> {
    return this.callbacks.unanswered()
  }

  // Updates

  deliveries(): ReadonlyArray<Delivery> {
    return this.updates.deliveries()
  }

  /** Resolves once a long-polling getUpdates is waiting on the server (rejects after the timeout). */
  waitForLongPoll(timeoutMs = 10_000): Promise<void> {
    return withTimeout(this.updates.waitForPoller(), timeoutMs, "no long-polling getUpdates")
  }

  get pendingUpdates(): number {
    return this.updates.pendingCount
  }

  /** Whether this update still waits for the bot to take it (confirm it, or answer its webhook POST). */
  isUpdatePending(updateId: number): boolean {
    return this.updates.isPending(updateId)
  }

  /** The user's next updates carry this language_code, as after a change of the app's language. */
  /** The command menu the user's app shows (the bot's setMyCommands lists, as Telegram picks one). */
  commandMenu(userId: number): Array<BotCommand> {
    return this.commands.menuFor(userId)
  }

  setUserLanguage(userId: number, languageCode: string): User {
    this.user(userId)
    return this.chats.setLanguage(userId, languageCode)
  }

  /** Queues a raw update (any type), e.g. an edited_message; returns it unless allowed_updates filters it. */
  pushUpdate(body: { readonly [K in UpdateType]?: Update[K] }): Update | undefined {
    return this.updates.push(body as Omit<Update, "update_id">)
  }

  // Payments

  invoices(): ReadonlyArray<Invoice> {
    return this.payments.invoices()
  }

  preCheckoutAnswers(): ReadonlyArray<PreCheckoutAnswer> {
    return this.payments.preCheckoutAnswers()
  }

  starTransactions(): ReadonlyArray<StarTransaction> {
    return this.payments.allTransactions()
  }

  /** Appends a past payment to the Star transactions (see Payments.recordPastPayment); returns its charge id. */
  recordPastStarPayment(past: PastPayment): string {
    return this.payments.recordPastPayment(past)
  }

  recordPastStarRefund(chargeId: string, date: number): void {
    this.payments.recordPastRefund(chargeId, date)
  }

  starBalance(): number {
    return this.payments.balance()
  }

  // Faults

  injectFault(spec: FaultSpec): Fault {
    return this.faults.inject(spec)
  }
}

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)
    promise.then(
      (a) => {
        clearTimeout(timer)
        resolve(a)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e)
      }
    )
  })
