/**
 * TelegramGateway on grammY's `Api` (no Bot: updates come in elsewhere; this is only the
 * outgoing side). Every call passes the outgoing limits, is classified by `classify.ts`
 * and retried by `telegramRetry`, so callers only ever see a TelegramError that is worth
 * acting on.
 *
 * The `Api` is the process's one (src/telegram/api.ts); its token is read again only inside
 * the one fetch of a file download, whose URL is never logged, returned or put in an error.
 *
 * Timeouts on HTTP are real-time (AbortSignal / grammY's own), not Effect timeouts: the
 * I/O happens in real time, and a virtual-time timeout would fire whenever a test moves
 * TestClock forward. Waits the gateway chooses itself (retry_after, backoff, rate limits)
 * use Effect's Clock.
 */
import { Api, InputFile } from "grammy"
import type { InlineKeyboardMarkup, Message, MessageEntity, StarTransaction, TransactionPartner } from "grammy/types"
import { Duration, Effect, Either, Layer, Option, type Redacted } from "effect"
import { AppConfig } from "../config/index.js"
import { type TelegramError, TelegramPermanentError } from "../errors/telegram-errors.js"
import { TransferPermits } from "../jobs/transfer-permits.js"
import { RateLimits } from "../rate-limits/rate-limits.js"
import { apiRootOf, makeTelegramApi, TelegramApi, type TelegramApiOptions } from "./api.js"
import { classifyAnswer, classifyFailure, isAlreadyDeleted, isNotModified, isUrlRefused } from "./classify.js"
import {
  type DownloadedFile,
  type InlineKeyboard,
  type OutgoingPlace,
  type StarTransactionEntry,
  TelegramGateway,
  type TelegramGatewayService,
  type VideoDelivery
} from "./gateway.js"
import { makeOutgoingLimiter, type TelegramLimits } from "./outgoing-limits.js"
import { urgentPriority } from "../runtime/time-sliced-scheduler.js"
import { telegramRetry } from "./retry-schedules.js"
import { countTelegramCall } from "../observability/metrics.js"

const MB = 1024 * 1024

/**
 * grammY types its signal parameter with the `abort-controller` polyfill's AbortSignal;
 * the platform one is what it really uses at run time.
 */
type GrammySignal = NonNullable<Parameters<Api["getMe"]>[0]>

/** Hosted Bot API limits (its docs: sendVideo, getFile). */
export const fileLimits = {
  /** Telegram fetches a video URL itself up to this size. */
  videoByUrl: 20 * MB,
  /** Multipart upload of a video. */
  videoUpload: 50 * MB,
  /** getFile downloads. */
  getFile: 20 * MB
} as const

export interface GatewayTuning {
  readonly limits?: Partial<TelegramLimits> | undefined
  /** Prefix of the rate-limiter keys (default "telegram:"). */
  readonly limiterKeyPrefix?: string | undefined
  /** Per file download, ours or Telegram's (default 120 s). */
  readonly downloadTimeout?: Duration.DurationInput | undefined
  /** The HEAD that sizes a video (default 10 s). */
  readonly probeTimeout?: Duration.DurationInput | undefined
}

/** A gateway with its own `Api`, for an explicit token and API root (tests). */
export interface TelegramGatewayOptions extends GatewayTuning, TelegramApiOptions {
  readonly token: Redacted.Redacted<string>
}

const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  mp4: "video/mp4",
  mov: "video/quicktime",
  webm: "video/webm"
}

/** The content type the server declared, unless it is the generic one; else the extension's. */
export const mimeTypeFor = (fileName: string, declared: string | null | undefined): string => {
  const fromHeader = declared?.split(";")[0]?.trim().toLowerCase()
  if (fromHeader !== undefined && fromHeader !== "" && fromHeader !== "application/octet-stream") return fromHeader
  const extension = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase()
  return (extension !== undefined ? MIME_BY_EXTENSION[extension] : undefined) ?? "application/octet-stream"
}

const inlineKeyboard = (keyboard: InlineKeyboard | undefined): { reply_markup: InlineKeyboardMarkup } | undefined =>
  keyboard === undefined ? undefined : {
    reply_markup: {
      inline_keyboard: keyboard.map((row) =>
        row.map((button) =>
          button.url !== undefined
            ? { text: button.text, url: button.url }
            : { text: button.text, callback_data: button.callbackData ?? button.text }
        )
      )
    }
  }

type Fetched =
  | { readonly _tag: "Complete"; readonly bytes: Uint8Array; readonly contentType: string | null }
  | { readonly _tag: "TooBig"; readonly sizeBytes: number }

/**
 * GET `url()` into memory, stopping at `limit` bytes. `url` is a thunk so that a
 * token-bearing URL exists only inside this promise; failures are classified from the
 * HTTP status or the transport error, never from the URL.
 */
const fetchBytes = (
  method: string,
  url: () => string,
  limit: number,
  timeout: Duration.Duration
): Effect.Effect<Fetched, TelegramError> =>
  Effect.tryPromise({
    try: async (signal): Promise<Fetched> => {
      const response = await fetch(url(), {
        signal: AbortSignal.any([signal, AbortSignal.timeout(Duration.toMillis(timeout))])
      })
      if (!response.ok || response.body === null) {
        await response.body?.cancel()
        throw classifyAnswer(method, { errorCode: response.status, description: `download answered HTTP ${response.status}` })
      }
      const declared = Number(response.headers.get("content-length") ?? Number.NaN)
      if (Number.isFinite(declared) && declared > limit) {
        await response.body.cancel()
        return { _tag: "TooBig", sizeBytes: declared }
      }
      const chunks: Array<Uint8Array> = []
      let size = 0
      for await (const chunk of response.body) {
        size += chunk.length
        if (size > limit) {
          // The body was longer than declared (or nothing was declared): the size so far is a lower bound.
          return { _tag: "TooBig", sizeBytes: Number.isFinite(declared) ? Math.max(declared, size) : size }
        }
        chunks.push(chunk)
      }
      return { _tag: "Complete", bytes: Buffer.concat(chunks), contentType: response.headers.get("content-type") }
    },
    catch: (error) => classifyFailure(method, error)
  })

/** Content-Length by HEAD, else by a one-byte ranged GET; None when the host will not say. */
const probeSize = (url: string, timeout: Duration.Duration): Effect.Effect<Option.Option<number>> =>
  Effect.tryPromise(async (signal) => {
    const options = (extra: RequestInit): RequestInit => ({
      ...extra,
      signal: AbortSignal.any([signal, AbortSignal.timeout(Duration.toMillis(timeout))])
    })
    const head = await fetch(url, options({ method: "HEAD" })).catch(() => undefined)
    const length = Number(head?.ok ? head.headers.get("content-length") ?? Number.NaN : Number.NaN)
    if (Number.isFinite(length) && length >= 0) return Option.some(length)
    const ranged = await fetch(url, options({ headers: { range: "bytes=0-0" } }))
    await ranged.body?.cancel()
    const total = Number(/\/(\d+)\s*$/.exec(ranged.headers.get("content-range") ?? "")?.[1] ?? Number.NaN)
    return Number.isFinite(total) ? Option.some(total) : Option.none()
  }).pipe(Effect.orElseSucceed(() => Option.none<number>()))

const videoFileName = (url: string): string => {
  try {
    const last = new URL(url).pathname.split("/").pop() ?? ""
    return /\.[A-Za-z0-9]{2,5}$/.test(last) ? last : "video.mp4"
  } catch {
    return "video.mp4"
  }
}

const isAlreadyRefunded = (error: TelegramError) =>
  error._tag === "TelegramPermanentError" && /CHARGE_ALREADY_REFUNDED/i.test(error.description ?? "")

const partnerUser = (partner: TransactionPartner | undefined) =>
  partner !== undefined && partner.type === "user"
    ? { userId: partner.user.id, invoicePayload: partner.invoice_payload }
    : { userId: undefined, invoicePayload: undefined }

export const toTransactionEntry = (transaction: StarTransaction): StarTransactionEntry => ({
  id: transaction.id,
  amount: transaction.amount,
  date: transaction.date,
  direction: transaction.source !== undefined ? "incoming" : "outgoing",
  ...partnerUser(transaction.source ?? transaction.receiver)
})

export const makeTelegramGateway = (
  options: TelegramGatewayOptions
): Effect.Effect<TelegramGatewayService, never, RateLimits | TransferPermits> =>
  makeGatewayOn(makeTelegramApi(options.token, options), options)

const makeGatewayOn = (
  api: Api,
  options: GatewayTuning
): Effect.Effect<TelegramGatewayService, never, RateLimits | TransferPermits> =>
  Effect.gen(function*() {
    const apiRoot = apiRootOf(api)
    const downloadTimeout = Duration.decode(options.downloadTimeout ?? Duration.seconds(120))
    const probeTimeout = Duration.decode(options.probeTimeout ?? Duration.seconds(10))
    const limiter = yield* makeOutgoingLimiter({ limits: options.limits, keyPrefix: options.limiterKeyPrefix })
    const transfers = yield* TransferPermits

    const logRetryable = (error: TelegramError) =>
      error._tag === "TelegramTransientError"
        ? Effect.logWarning("Telegram call failed").pipe(
          Effect.annotateLogs({
            method: error.method,
            reason: error.reason,
            ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds })
          })
        )
        : Effect.void

    /**
     * One Bot API call with its retries. `chatId` is set for calls that post or edit a
     * message: each attempt, retries included, takes its place under the limits, since
     * Telegram counts every attempt. `stillWanted` is asked when the turn has come, before
     * the attempt: None when the message is not wanted any more (it was never sent).
     */
    const callIfWanted = <A>(
      method: string,
      chatId: number | undefined,
      run: (signal: GrammySignal) => Promise<A>,
      turn: {
        readonly place: OutgoingPlace
        readonly stillWanted: Effect.Effect<boolean>
        /** Runs on the answer before an interruption can land (see `attempt`). */
        readonly onAnswer?: ((answer: A) => Effect.Effect<void>) | undefined
      }
    ): Effect.Effect<Option.Option<A>, TelegramError> => {
      // A request on its way is let finish, not aborted, and its answer handed to `onAnswer`
      // in the same breath: Telegram may have acted on it already, and an answer thrown away
      // makes the next run do it again. A runner stopping or giving up a shard (the cluster
      // interrupts its entities' handlers) while a video was being posted sent the video twice
      // (test/jobs/job-restart.ts). The wait for a place under the limits stays interruptible;
      // an attempt ends by the client's request timeout at worst (`requestTimeout`, ./api.ts).
      const attempt = Effect.tryPromise({
        try: (signal) => run(signal as unknown as GrammySignal),
        catch: (error) => classifyFailure(method, error)
      }).pipe(
        Effect.tap((answer) => turn.onAnswer === undefined ? Effect.void : turn.onAnswer(answer)),
        Effect.uninterruptible,
        countTelegramCall(method),
        Effect.map(Option.some)
      )
      const ifWanted = Effect.flatMap(turn.stillWanted, (wanted) => wanted ? attempt : Effect.succeedNone)
      const acquire = (chatId: number) => limiter.acquire(chatId, turn.place.priority, turn.place.askedAtMs)
      return (chatId === undefined ? ifWanted : Effect.zipRight(acquire(chatId), ifWanted)).pipe(
        // A place under the send limits is a slice of Telegram's budget: once it is this call's,
        // the call goes on ahead of the runner's other work (src/runtime/time-sliced-scheduler.ts).
        // The step that follows the grant counts: with the attempt alone urgent, a 4,000-photo
        // burst answered 1,137 users in 60 s against 1,548 (BENCHMARKS.md).
        Effect.withSchedulingPriority(urgentPriority),
        Effect.tapError(logRetryable),
        Effect.retry(telegramRetry)
      )
    }

    const always = Effect.succeed(true)
    const call = <A>(
      method: string,
      chatId: number | undefined,
      run: (signal: GrammySignal) => Promise<A>,
      place: OutgoingPlace = {},
      onAnswer?: (answer: A) => Effect.Effect<void>
    ): Effect.Effect<A, TelegramError> =>
      callIfWanted(method, chatId, run, { place, stillWanted: always, onAnswer }).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.dieMessage(`${method}: a call that is always wanted was not made`),
          onSome: Effect.succeed
        }))
      )

    const download = (method: string, url: () => string, limit: number) =>
      fetchBytes(method, url, limit, downloadTimeout).pipe(Effect.tapError(logRetryable), Effect.retry(telegramRetry))

    const sendMessage: TelegramGatewayService["sendMessage"] = (chatId, text, options) =>
      call(
        "sendMessage",
        chatId,
        (signal) => api.sendMessage(chatId, text, inlineKeyboard(options?.keyboard), signal),
        { priority: options?.priority, askedAtMs: options?.askedAtMs },
        options?.onSent && ((message) => options.onSent!(message.message_id))
      ).pipe(
        Effect.map((message) => message.message_id),
        Effect.withSpan("TelegramGateway.sendMessage")
      )

    const sendProgressMessage: TelegramGatewayService["sendProgressMessage"] = (chatId, text, options) =>
      callIfWanted(
        "sendMessage",
        chatId,
        (signal) => api.sendMessage(chatId, text, inlineKeyboard(options.keyboard), signal),
        {
          place: { priority: "answer", askedAtMs: options.askedAtMs },
          stillWanted: options.stillWanted,
          onAnswer: options.onPosted && ((message) => options.onPosted!(message.message_id))
        }
      ).pipe(
        Effect.map(Option.map((message) => message.message_id)),
        Effect.withSpan("TelegramGateway.sendProgressMessage")
      )

    const sendBroadcast: TelegramGatewayService["sendBroadcast"] = (chatId, content, priority = "bulk") => {
      const markup = inlineKeyboard(content.buttons.length === 0 ? undefined : content.buttons)
      const entities = JSON.parse(content.entitiesJson) as Array<MessageEntity>
      const formatted = entities.length === 0 ? {} : content.kind === "text" ? { entities } : { caption_entities: entities }
      const caption = content.body === "" ? {} : { caption: content.body }
      const method = content.kind === "text" ? "sendMessage" : content.kind === "photo" ? "sendPhoto" : "sendVideo"
      const media = content.fileId ?? ""
      return call(method, chatId, (signal): Promise<Message> => {
        switch (content.kind) {
          case "text":
            return api.sendMessage(chatId, content.body, { ...formatted, ...markup }, signal)
          case "photo":
            return api.sendPhoto(chatId, media, { ...caption, ...formatted, ...markup }, signal)
          case "video":
            return api.sendVideo(chatId, media, { ...caption, ...formatted, ...markup }, signal)
        }
      }, { priority }).pipe(Effect.map((message) => message.message_id), Effect.withSpan("TelegramGateway.sendBroadcast"))
    }

    const editMessageText: TelegramGatewayService["editMessageText"] = (chatId, messageId, text, options) =>
      callIfWanted(
        "editMessageText",
        chatId,
        (signal) => api.editMessageText(chatId, messageId, text, inlineKeyboard(options?.keyboard), signal),
        { place: { priority: options?.priority }, stillWanted: options?.stillWanted ?? always }
      ).pipe(
        Effect.asVoid,
        Effect.catchIf(isNotModified, () => Effect.void),
        Effect.withSpan("TelegramGateway.editMessageText")
      )

    const deleteMessage: TelegramGatewayService["deleteMessage"] = (chatId, messageId) =>
      call("deleteMessage", undefined, (signal) => api.deleteMessage(chatId, messageId, signal)).pipe(
        Effect.asVoid,
        Effect.catchIf(isAlreadyDeleted, () => Effect.void),
        Effect.withSpan("TelegramGateway.deleteMessage")
      )

    // Chat actions and deletions are not messages: Telegram's per-chat limits are about
    // posts and edits, and an `upload_video` refresh every ~4 s must not queue behind them.
    const sendChatAction: TelegramGatewayService["sendChatAction"] = (chatId, action) =>
      call("sendChatAction", undefined, (signal) => api.sendChatAction(chatId, action, undefined, signal)).pipe(
        Effect.asVoid,
        Effect.withSpan("TelegramGateway.sendChatAction")
      )

    const videoDelivery = (message: Message.VideoMessage | Message): VideoDelivery => ({
      _tag: "Sent",
      messageId: message.message_id,
      // Telegram may file a video it cannot parse as a document or animation.
      fileId: message.video?.file_id ?? (message as Message).document?.file_id ?? (message as Message).animation?.file_id
    })

    const postVideo = (
      chatId: number,
      video: string | InputFile,
      caption: string,
      keyboard: InlineKeyboard | undefined,
      place: OutgoingPlace,
      onDelivered: ((delivery: VideoDelivery) => Effect.Effect<void>) | undefined
    ): Effect.Effect<VideoDelivery, TelegramError> =>
      call(
        "sendVideo",
        chatId,
        (signal) => api.sendVideo(chatId, video, { caption, supports_streaming: true, ...inlineKeyboard(keyboard) }, signal),
        place,
        onDelivered && ((message) => onDelivered(videoDelivery(message)))
      ).pipe(Effect.map(videoDelivery))

    const sendVideo: TelegramGatewayService["sendVideo"] = (chatId, video) =>
      Effect.gen(function*() {
        const place: OutgoingPlace = { priority: video.priority, askedAtMs: video.askedAtMs }
        const onDelivered = video.onDelivered
        const asLink = (sizeBytes: number) => {
          const delivery = (message: Message.TextMessage): VideoDelivery => ({ _tag: "SentAsLink", messageId: message.message_id, sizeBytes })
          return call(
            "sendMessage",
            chatId,
            (signal) => api.sendMessage(chatId, video.tooBigText(sizeBytes), inlineKeyboard(video.keyboard), signal),
            place,
            onDelivered && ((message) => onDelivered(delivery(message)))
          ).pipe(Effect.map(delivery))
        }
        const size = yield* probeSize(video.url, probeTimeout)
        if (Option.isSome(size) && size.value > fileLimits.videoUpload) return yield* asLink(size.value)

        // Small or unknown: let Telegram fetch it, which costs us no bandwidth.
        if (Option.isNone(size) || size.value <= fileLimits.videoByUrl) {
          const byUrl = yield* postVideo(chatId, video.url, video.caption, video.keyboard, place, onDelivered).pipe(
            Effect.map(Option.some),
            Effect.catchIf(isUrlRefused, () => Effect.succeedNone)
          )
          if (Option.isSome(byUrl)) return byUrl.value
        }

        // The video's bytes (up to 50 MB) are held from the download to the end of the upload.
        const uploaded = yield* transfers.withPermit(Effect.gen(function*() {
          const fetched = yield* download("sendVideo", () => video.url, fileLimits.videoUpload)
          if (fetched._tag === "TooBig") return Either.left(fetched.sizeBytes)
          // Buffers, not streams: a retried upload must resend the same bytes.
          const upload = new InputFile(fetched.bytes, videoFileName(video.url))
          return yield* postVideo(chatId, upload, video.caption, video.keyboard, place, onDelivered).pipe(
            Effect.map(Either.right),
            Effect.catchIf(
              (error) => error._tag === "TelegramPermanentError" && error.reason === "FileTooBig",
              () => Effect.succeed(Either.left(fetched.bytes.length))
            )
          )
        }))
        // Too big for an upload: a link, sent after the permit and its bytes are let go.
        return yield* Either.match(uploaded, { onLeft: asLink, onRight: Effect.succeed })
      }).pipe(Effect.withSpan("TelegramGateway.sendVideo"))

    const tooBig = (method: string, description: string) =>
      new TelegramPermanentError({ method, reason: "FileTooBig", description })

    const downloadFile: TelegramGatewayService["downloadFile"] = (fileId) =>
      Effect.gen(function*() {
        const file = yield* call("getFile", undefined, (signal) => api.getFile(fileId, signal))
        if (file.file_size !== undefined && file.file_size > fileLimits.getFile) {
          return yield* tooBig("getFile", "file is too big")
        }
        const filePath = file.file_path
        if (filePath === undefined || filePath === "") {
          return yield* new TelegramPermanentError({ method: "getFile", reason: "BadRequest", description: "no file_path" })
        }
        const fetched = yield* download(
          "downloadFile",
          () => `${apiRoot}/file/bot${api.token}/${filePath}`,
          fileLimits.getFile
        )
        if (fetched._tag === "TooBig") return yield* tooBig("downloadFile", "file is too big")
        const fileName = filePath.split("/").pop() ?? filePath
        return {
          bytes: fetched.bytes,
          mimeType: mimeTypeFor(fileName, fetched.contentType),
          fileName
        } satisfies DownloadedFile
      }).pipe(Effect.withSpan("TelegramGateway.downloadFile"))

    const sendInvoice: TelegramGatewayService["sendInvoice"] = (chatId, invoice) =>
      call("sendInvoice", chatId, (signal) =>
        api.sendInvoice(
          chatId,
          invoice.title,
          invoice.description,
          invoice.payload,
          "XTR",
          [{ label: invoice.label, amount: invoice.stars }],
          { provider_token: "" },
          signal
        )).pipe(Effect.map((message) => message.message_id), Effect.withSpan("TelegramGateway.sendInvoice"))

    const answerPreCheckoutQuery: TelegramGatewayService["answerPreCheckoutQuery"] = (queryId, errorMessage) =>
      call("answerPreCheckoutQuery", undefined, (signal) =>
        errorMessage === undefined
          ? api.answerPreCheckoutQuery(queryId, true, undefined, signal)
          : api.answerPreCheckoutQuery(queryId, false, { error_message: errorMessage }, signal)).pipe(
          Effect.asVoid,
          Effect.withSpan("TelegramGateway.answerPreCheckoutQuery")
        )

    const refundStarPayment: TelegramGatewayService["refundStarPayment"] = (userId, chargeId) =>
      call("refundStarPayment", undefined, (signal) => api.refundStarPayment(userId, chargeId, signal)).pipe(
        Effect.asVoid,
        // Telegram's answer to a second refund; Telegram has also returned it for a first one.
        Effect.catchIf(isAlreadyRefunded, () => Effect.void),
        Effect.withSpan("TelegramGateway.refundStarPayment")
      )

    const getStarTransactions: TelegramGatewayService["getStarTransactions"] = (offset, limit) =>
      call("getStarTransactions", undefined, (signal) => api.getStarTransactions({ offset, limit }, signal)).pipe(
        Effect.map((page) => page.transactions.map(toTransactionEntry)),
        Effect.withSpan("TelegramGateway.getStarTransactions")
      )

    return TelegramGateway.of({
      sendMessage,
      sendProgressMessage,
      sendBroadcast,
      editMessageText,
      deleteMessage,
      sendChatAction,
      sendVideo,
      downloadFile,
      sendInvoice,
      answerPreCheckoutQuery,
      refundStarPayment,
      getStarTransactions
    })
  })

/**
 * The production layer: the process's `Api`, limits in the shared store. `RateLimits.Default`
 * is the very value KieRateLimiter and the bot use, so one composition builds it once and
 * all limiters share one Redis connection.
 */
export const TelegramGatewayLive: Layer.Layer<TelegramGateway, never, AppConfig | TelegramApi | TransferPermits> = Layer
  .effect(
    TelegramGateway,
    Effect.gen(function*() {
      const { telegram } = yield* AppConfig
      return yield* makeGatewayOn(yield* TelegramApi, {
        limits: { globalPerSecond: telegram.messagesPerSecond, bulkPerSecond: telegram.broadcastPerSecond }
      })
    })
  )
  .pipe(Layer.provide(RateLimits.Default))

export type { TelegramLimits } from "./outgoing-limits.js"
