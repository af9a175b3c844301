/**
 * The KIE.AI client: file upload, createTask, recordInfo and the credit balance. Every
 * answer is checked on both the HTTP status and the envelope's `code` (KIE reports most
 * errors as HTTP 200), decoded with a Schema, and every failure leaves as one of the four
 * KIE error classes via the classifier. The key lives only in the Authorization header.
 */
import { FetchHttpClient, HttpBody, HttpClient, type HttpClientError, HttpClientRequest } from "@effect/platform"
import { Clock, ConfigError, Duration, Effect, Layer, Option, ParseResult, Redacted, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../config/index.js"
import { type KieError, type KieOperation, KieOperatorError } from "../errors/kie-errors.js"
import { classify } from "./classify.js"
import { CreateTaskData, CreditsData, Envelope, RecordInfoData, type TaskState, UploadData } from "./kie-schema.js"
import { defaultResultHosts, type ResultUrlPolicy, untrustedResultUrl } from "./result-url.js"
import { countKieCall } from "../observability/metrics.js"

export interface KieClientSettings {
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl: string
  readonly uploadBaseUrl: string
  readonly timeouts?: Partial<Record<KieOperation, Duration.DurationInput>>
  /** KIE's result hosts (KIE_RESULT_HOSTS); default `defaultResultHosts`. */
  readonly resultHosts?: ReadonlyArray<string>
}

// Cloudflare in front of KIE answers 403 "error code: 1010" to clients without one.
export const userAgent = "Mozilla/5.0 (compatible; photo-video-bot/0.1; +https://t.me)"

const defaultTimeouts: Record<KieOperation, Duration.DurationInput> = {
  upload: "60 seconds",
  createTask: "30 seconds",
  recordInfo: "15 seconds",
  credits: "10 seconds"
}

export interface UploadedFile {
  readonly url: string
  readonly fileName: string
}

export interface CreateTaskRequest {
  readonly model: string
  readonly input: Record<string, unknown>
  readonly callBackUrl?: string | undefined
}

export type KieTask =
  | { readonly _tag: "Pending"; readonly taskId: string; readonly state: Exclude<TaskState, "success" | "fail">; readonly progress: Option.Option<number> }
  | {
    readonly _tag: "Succeeded"
    readonly taskId: string
    readonly resultUrls: ReadonlyArray<string>
    readonly creditsConsumed: Option.Option<number>
    readonly elapsedMillis: Option.Option<number>
  }
  | { readonly _tag: "Failed"; readonly taskId: string; readonly error: KieError }

// Built once: a schema made inside a call is a new one each time, and its parser is compiled again.
const decodeEnvelope = Schema.decodeUnknownOption(Schema.parseJson(Envelope))

const extensionOf = (mimeType: string) =>
  mimeType === "image/png" ? "png" : mimeType === "image/webp" ? "webp" : mimeType === "image/gif" ? "gif" : "jpg"

const transportKind = (error: HttpClientError.RequestError): "ConnectionRefused" | "Other" => {
  // The platform wraps fetch's TypeError, which wraps the socket error carrying the code.
  let cause: unknown = error.cause
  for (let depth = 0; depth < 4 && cause !== undefined && cause !== null; depth++) {
    if (typeof cause === "object" && "code" in cause && cause.code === "ECONNREFUSED") return "ConnectionRefused"
    cause = typeof cause === "object" && "cause" in cause ? cause.cause : undefined
  }
  return "Other"
}

export const makeKieClient = (settings: KieClientSettings) =>
  Effect.gen(function*() {
    const timeouts = { ...defaultTimeouts, ...settings.timeouts }
    const resultUrlPolicy: ResultUrlPolicy = {
      hosts: settings.resultHosts ?? defaultResultHosts,
      configuredRoots: [settings.baseUrl, settings.uploadBaseUrl]
    }
    const http = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest((request) =>
        request.pipe(
          // The only place the key is used: the platform redacts this header in logs and traces.
          HttpClientRequest.bearerToken(settings.apiKey),
          HttpClientRequest.setHeader("User-Agent", userAgent),
          HttpClientRequest.acceptJson
        )
      )
    )

    /**
     * Sends one request and returns the decoded `data`, or a classified KieError. The
     * body is read as text first so that a malformed answer is kept (redacted) for operators.
     */
    const call = <A, I>(
      operation: KieOperation,
      request: HttpClientRequest.HttpClientRequest,
      data: Schema.Schema<A, I>,
      context: { readonly taskId?: string; readonly taskAgeMillis?: number } = {}
    ): Effect.Effect<A, KieError> =>
      http.execute(request).pipe(
        Effect.flatMap((response) => Effect.map(response.text, (text) => ({ status: response.status, text }))),
        Effect.timeoutFail({
          duration: timeouts[operation],
          onTimeout: () =>
            classify({
              _tag: "Transport",
              operation,
              kind: "Timeout",
              detail: `no answer within ${Duration.format(Duration.decode(timeouts[operation]))}`
            })
        }),
        Effect.catchTags({
          RequestError: (error) =>
            Effect.fail(classify({ _tag: "Transport", operation, kind: transportKind(error), detail: error.message })),
          ResponseError: (error) =>
            Effect.fail(classify({ _tag: "Transport", operation, kind: "Other", detail: error.message }))
        }),
        Effect.flatMap(({ status, text }) => interpret(operation, status, text, data, context)),
        countKieCall(operation)
      )

    const interpret = <A, I>(
      operation: KieOperation,
      status: number,
      text: string,
      data: Schema.Schema<A, I>,
      context: { readonly taskId?: string; readonly taskAgeMillis?: number }
    ): Effect.Effect<A, KieError> => {
      const envelope = decodeEnvelope(text)
      const ok = status >= 200 && status < 300
      if (Option.isNone(envelope)) {
        return Effect.fail(
          ok
            ? classify({ _tag: "Malformed", operation, status, raw: text, detail: "the answer is not a KIE envelope" })
            : classify({ _tag: "Answer", operation, status, raw: text })
        )
      }
      const { code, message, msg } = envelope.value
      if (!ok || code !== 200) {
        return Effect.fail(classify({
          _tag: "Answer",
          operation,
          status,
          code: Number.isInteger(code) ? code : undefined,
          msg: msg ?? message ?? undefined,
          raw: text,
          ...context
        }))
      }
      return Schema.decodeUnknown(data)(envelope.value.data).pipe(
        Effect.mapError((error) =>
          classify({
            _tag: "Malformed",
            operation,
            status,
            raw: text,
            detail: ParseResult.TreeFormatter.formatErrorSync(error)
          })
        )
      )
    }

    const uploadFile = Effect.fn("KieClient.uploadFile")(function*(file: {
      readonly bytes: Uint8Array
      readonly mimeType: string
    }) {
      // KIE overwrites a file uploaded under the same path and name, so every upload is unique.
      const now = yield* Clock.currentTimeMillis
      const fileName = `${now}-${randomUUID()}.${extensionOf(file.mimeType)}`
      const form = new FormData()
      form.append("file", new Blob([file.bytes], { type: file.mimeType }), fileName)
      form.append("uploadPath", "photo-video-bot")
      form.append("fileName", fileName)
      const uploaded = yield* call(
        "upload",
        HttpClientRequest.post(`${settings.uploadBaseUrl}/api/file-stream-upload`).pipe(
          HttpClientRequest.setBody(HttpBody.formData(form))
        ),
        UploadData
      )
      // The docs disagree on the field; the live service sends downloadUrl.
      return { url: (uploaded.downloadUrl || uploaded.fileUrl)!, fileName } satisfies UploadedFile
    })

    const createTask = Effect.fn("KieClient.createTask")(function*(request: CreateTaskRequest) {
      const body = request.callBackUrl === undefined
        ? { model: request.model, input: request.input }
        : { model: request.model, input: request.input, callBackUrl: request.callBackUrl }
      const created = yield* call(
        "createTask",
        HttpClientRequest.post(`${settings.baseUrl}/api/v1/jobs/createTask`).pipe(
          HttpClientRequest.bodyUnsafeJson(body)
        ),
        CreateTaskData
      )
      return created.taskId
    })

    /** `createdAt` (epoch ms) lets "recordInfo is null" right after creation count as not-yet-visible. */
    const getTask = Effect.fn("KieClient.getTask")(function*(taskId: string, options: { readonly createdAt?: number } = {}) {
      const now = yield* Clock.currentTimeMillis
      const taskAgeMillis = options.createdAt === undefined ? 0 : now - options.createdAt
      const info = yield* call(
        "recordInfo",
        HttpClientRequest.get(`${settings.baseUrl}/api/v1/jobs/recordInfo`).pipe(
          HttpClientRequest.setUrlParam("taskId", taskId)
        ),
        RecordInfoData,
        { taskId, taskAgeMillis }
      )
      const task = toTask(taskId, info, resultUrlPolicy)
      if (task._tag === "Failed" && task.error._tag === "KieOperatorError" && task.error.reason === "UntrustedResultUrl") {
        yield* Effect.logError("KIE finished a task with a result URL outside its hosts; it is not fetched and the job is refunded")
          .pipe(Effect.annotateLogs({ taskId, detail: task.error.msg ?? "" }))
      }
      return task
    })

    const getCredits = Effect.fn("KieClient.getCredits")(function*() {
      return yield* call("credits", HttpClientRequest.get(`${settings.baseUrl}/api/v1/chat/credit`), CreditsData)
    })

    return { uploadFile, createTask, getTask, getCredits } as const
  })

const toTask = (taskId: string, info: RecordInfoData, resultUrlPolicy: ResultUrlPolicy): KieTask => {
  const raw = JSON.stringify(info)
  switch (info.state) {
    case "success": {
      const result = info.resultJson ?? null
      const urls = result === null ? [] : result.resultUrls ?? result.result_urls ?? result.origin_urls ?? []
      if (urls.length === 0) {
        return {
          _tag: "Failed",
          taskId,
          error: classify({ _tag: "Malformed", operation: "recordInfo", status: 200, raw, detail: "success without result URLs" })
        }
      }
      // Checked before anything fetches it: the URL is KIE's word, the fetch is ours.
      const untrusted = urls.map((url) => untrustedResultUrl(url, resultUrlPolicy)).find((problem) => problem !== undefined)
      if (untrusted !== undefined) {
        return {
          _tag: "Failed",
          taskId,
          error: new KieOperatorError({ reason: "UntrustedResultUrl", operation: "recordInfo", taskId, msg: untrusted })
        }
      }
      const credits = info.creditsConsumed ?? info.consumeCredits ?? null
      // costTime's unit is undocumented (seconds or milliseconds); the two timestamps are not.
      const elapsed = info.completeTime != null && info.createTime != null ? info.completeTime - info.createTime : null
      return {
        _tag: "Succeeded",
        taskId,
        resultUrls: urls,
        creditsConsumed: Option.fromNullable(credits),
        elapsedMillis: Option.fromNullable(elapsed)
      }
    }
    case "fail":
      return {
        _tag: "Failed",
        taskId,
        error: classify({ _tag: "TaskFailed", taskId, failCode: info.failCode ?? "", failMsg: info.failMsg ?? "", raw })
      }
    default:
      return { _tag: "Pending", taskId, state: info.state, progress: Option.fromNullable(info.progress) }
  }
}

export class KieClient extends Effect.Service<KieClient>()("app/KieClient", {
  effect: Effect.gen(function*() {
    const config = yield* AppConfig
    if (Option.isNone(config.kie.apiKey)) {
      // The sandbox points KIE_BASE_URL at the simulator and supplies its key.
      return yield* Effect.fail(ConfigError.MissingData(["KIE_API_KEY"], "KIE_API_KEY must be set to talk to KIE"))
    }
    return yield* makeKieClient({
      apiKey: config.kie.apiKey.value,
      baseUrl: config.kie.baseUrl,
      uploadBaseUrl: config.kie.uploadBaseUrl,
      resultHosts: config.kie.resultHosts
    })
  }),
  dependencies: [FetchHttpClient.layer]
}) {
  /** A client for explicit settings (tests, the sandbox), on fetch. */
  static readonly layerWith = (settings: KieClientSettings) =>
    Layer.effect(KieClient, Effect.map(makeKieClient(settings), KieClient.make)).pipe(
      Layer.provide(FetchHttpClient.layer)
    )
}
