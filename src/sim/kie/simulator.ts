/**
 * A KIE.AI stand-in: a real HTTP server on loopback with KIE's paths and answer shapes
 * (docs.kie.ai), used by tests, the sandbox and the benchmarks. Tasks move
 * waiting → queuing → generating → success/fail over configurable durations, on real
 * time or, with `clock: "manual"`, only when `advance(ms)` is called, so a test decides
 * exactly when a task finishes and when its callback is sent.
 */
import { createHmac, randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import {
  type CallbackMode,
  emptyChaosStats,
  type FaultAnswer,
  type KieChaos,
  type KieChaosStats,
  type KieSimFaults,
  noFaults,
  outcomes as knownOutcomes,
  seededDraw,
  seededStream,
  type TaskOutcome,
  transientAnswers
} from "./faults.js"
import { imageUrlsOf, simModels, validateInput } from "./sim-models.js"

export interface KieSimOptions {
  readonly apiKey?: string
  readonly host?: string
  readonly port?: number
  readonly clock?: "real" | "manual"
  /** Manual clock only: the first instant (epoch ms). */
  readonly startTime?: number
  readonly phases?: { readonly waitingMs?: number; readonly queuingMs?: number; readonly generatingMs?: number }
  readonly webhookHmacKey?: string
  readonly credits?: number
  /** KIE's per-account limit on createTask; over it, 429 and the request is dropped. */
  readonly rateLimit?: { readonly limit: number; readonly windowMs: number } | false
  /** Seeded probabilistic faults (transient errors, failed/stuck tasks, callback loss). */
  readonly chaos?: KieChaos
}

/** The busiest moments seen, for comparing with a rate limit. */
export interface KieRateStats {
  /** Most requests of the route that arrived within one calendar second. */
  readonly maxPerSecond: number
  /** Most that arrived in any sliding window of `windowMs` (ending at an arrival). */
  readonly maxPerWindow: number
  readonly windowMs: number
  readonly total: number
}

export type SimTaskState = "waiting" | "queuing" | "generating" | "success" | "fail"

export interface SimTask {
  readonly taskId: string
  readonly model: string
  readonly input: Record<string, unknown>
  readonly callBackUrl: string | undefined
  readonly createdAt: number
  readonly outcome: TaskOutcome
  /** Fixed when the task is created, so a test can lose one task's callback and not another's. */
  readonly callbackMode: CallbackMode
  state: SimTaskState
  completedAt: number | undefined
  callbackSent: boolean
}

export interface CallbackDelivery {
  readonly taskId: string
  readonly url: string
  readonly status: number | "lost" | "error"
  readonly at: number
}

export interface KieSimulator {
  readonly url: string
  readonly apiKey: string
  readonly faults: KieSimFaults
  /** Every createTask body the simulator accepted, in order. */
  readonly tasks: () => ReadonlyArray<SimTask>
  readonly task: (taskId: string) => SimTask | undefined
  readonly uploads: () => ReadonlyArray<{ readonly path: string; readonly size: number; readonly mimeType: string }>
  readonly callbacks: () => ReadonlyArray<CallbackDelivery>
  /** Authenticated API requests per route, e.g. "GET /api/v1/jobs/recordInfo". */
  readonly requestCounts: () => ReadonlyMap<string, number>
  /** createTask attempts (accepted or not), with the time they arrived; for rate checks. */
  readonly createAttempts: () => ReadonlyArray<{ readonly at: number; readonly status: number }>
  readonly credits: () => number
  readonly setCredits: (credits: number) => void
  readonly setFaults: (faults: Partial<KieSimFaults>) => void
  readonly resetFaults: () => void
  readonly now: () => number
  /** Manual clock: moves time and settles tasks, awaiting their callbacks. */
  readonly advance: (ms: number) => Promise<void>
  /** Sends a task's callback again, as KIE might (duplicates, late deliveries). */
  readonly resendCallback: (taskId: string) => Promise<void>
  /** Turns seeded chaos on (or off with undefined) for requests and tasks from now on. */
  readonly setChaos: (chaos: KieChaos | undefined) => void
  /** What the chaos injected so far. */
  readonly chaosStats: () => KieChaosStats
  /** Arrival times (epoch ms) of authenticated requests of a route, e.g. "POST /api/v1/jobs/createTask"; all routes when omitted. */
  readonly requestTimes: (route?: string) => ReadonlyArray<number>
  /** Peak request rates of a route (all routes when omitted) over the run. */
  readonly rateStats: (route?: string, windowMs?: number) => KieRateStats
  readonly close: () => Promise<void>
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks)))
    req.on("error", reject)
  })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// A few bytes with an MP4 "ftyp" box, enough for a client that sniffs the type.
const fakeVideo = Buffer.from("000000186674797069736f6d0000020069736f6d69736f32", "hex")

export const startKieSimulator = async (options: KieSimOptions = {}): Promise<KieSimulator> => {
  const apiKey = options.apiKey ?? `sim-${randomBytes(8).toString("hex")}`
  const manual = options.clock === "manual"
  let virtualNow = options.startTime ?? Date.now()
  const now = () => (manual ? virtualNow : Date.now())
  const phases = {
    waitingMs: options.phases?.waitingMs ?? 1_000,
    queuingMs: options.phases?.queuingMs ?? 1_000,
    generatingMs: options.phases?.generatingMs ?? 8_000
  }
  const rateLimit = options.rateLimit === false ? undefined : options.rateLimit ?? { limit: 20, windowMs: 10_000 }

  let faults = noFaults()
  let credits = options.credits ?? 100_000
  let sequence = 0
  const tasks = new Map<string, SimTask>()
  const files = new Map<string, { bytes: Buffer; mimeType: string }>()
  const deliveries: Array<CallbackDelivery> = []
  const attempts: Array<{ at: number; status: number }> = []
  const timers = new Set<NodeJS.Timeout>()
  const hanging = new Set<ServerResponse>()
  let baseUrl = ""
  let chaos = options.chaos
  let chaosStream = seededStream(chaos?.seed ?? 0)
  let chaosStats = emptyChaosStats()
  // Arrival times per route, for the request-rate report.
  const arrivals = new Map<string, Array<number>>()

  /** A transient answer for this request, drawn from the seeded stream, or undefined. */
  const chaosTransient = (): FaultAnswer | undefined => {
    if (chaos === undefined || (chaos.transientRate ?? 0) <= 0) return undefined
    if (chaosStream() >= (chaos.transientRate ?? 0)) return undefined
    return transientAnswers[Math.floor(chaosStream() * transientAnswers.length)]
  }

  /** The fate of a new task, fixed by the seed and its prompt (and how often that prompt was submitted). */
  const chaosFate = (input: Record<string, unknown>): { outcome?: TaskOutcome; callbacks?: CallbackMode } => {
    if (chaos === undefined) return {}
    const prompt = String(input.prompt ?? "")
    const key = `${prompt}#${[...tasks.values()].filter((task) => task.input.prompt === input.prompt).length}`
    const fate: { outcome?: TaskOutcome; callbacks?: CallbackMode } = {}
    const outcomeDraw = seededDraw(chaos.seed, "outcome", key)
    const policy = chaos.contentPolicyRate ?? 0
    const stuck = chaos.stuckRate ?? 0
    if (outcomeDraw < policy) {
      fate.outcome = knownOutcomes.contentPolicy
      chaosStats.contentPolicy++
    } else if (outcomeDraw < policy + stuck) {
      fate.outcome = { _tag: "Stuck", state: "generating" }
      chaosStats.stuck++
    }
    const callbackDraw = seededDraw(chaos.seed, "callback", key)
    const lose = chaos.loseCallbackRate ?? 0
    const duplicate = chaos.duplicateCallbackRate ?? 0
    if (callbackDraw < lose) fate.callbacks = "lose"
    else if (callbackDraw < lose + duplicate) fate.callbacks = "duplicate"
    return fate
  }

  const rateStats = (route?: string, windowMs = 10_000): KieRateStats => {
    const times = (route === undefined ? [...arrivals.values()].flat() : [...(arrivals.get(route) ?? [])]).sort((a, b) => a - b)
    const perSecond = new Map<number, number>()
    for (const at of times) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1)
    let maxPerWindow = 0
    for (let end = 0, start = 0; end < times.length; end++) {
      while (times[start]! <= times[end]! - windowMs) start++
      maxPerWindow = Math.max(maxPerWindow, end - start + 1)
    }
    return { maxPerSecond: Math.max(0, ...perSecond.values()), maxPerWindow, windowMs, total: times.length }
  }

  const stateAt = (task: SimTask, at: number): SimTaskState => {
    const age = at - task.createdAt
    const { outcome } = task
    if (outcome._tag === "Stuck") return outcome.state
    if (age < phases.waitingMs) return "waiting"
    if (age < phases.waitingMs + phases.queuingMs) return "queuing"
    if (age < phases.waitingMs + phases.queuingMs + phases.generatingMs) return "generating"
    return outcome._tag === "Success" ? "success" : "fail"
  }

  const envelope = (code: number, msg: string, data: unknown) =>
    faults.envelopeUsesMessage ? { code, message: msg, data } : { code, msg, data }

  const recordOf = (task: SimTask) => {
    const terminal = task.state === "success" || task.state === "fail"
    const result = { resultUrls: [`${faults.resultUrlBase ?? `${baseUrl}/results`}/${task.taskId}.mp4`] }
    return {
      taskId: task.taskId,
      model: task.model,
      state: task.state,
      param: JSON.stringify({ model: task.model, input: task.input, callBackUrl: task.callBackUrl }),
      resultJson: task.state === "success" ? (faults.resultJsonAsObject ? result : JSON.stringify(result)) : "",
      failCode: task.state === "fail" && task.outcome._tag === "Fail" ? task.outcome.failCode : "",
      failMsg: task.state === "fail" && task.outcome._tag === "Fail" ? task.outcome.failMsg : "",
      costTime: terminal && task.completedAt !== undefined ? task.completedAt - task.createdAt : null,
      completeTime: terminal ? task.completedAt ?? null : null,
      createTime: task.createdAt,
      updateTime: now(),
      creditsConsumed: task.state === "success" ? simModels[task.model]?.cost ?? 0 : 0
    }
  }

  const signatureHeaders = (taskId: string): Record<string, string> => {
    if (options.webhookHmacKey === undefined) return {}
    const timestamp = String(Math.floor(now() / 1000))
    const signature = createHmac("sha256", options.webhookHmacKey).update(`${taskId}.${timestamp}`).digest("base64")
    return { "X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": signature }
  }

  const postCallback = async (task: SimTask) => {
    if (task.callBackUrl === undefined) return
    const success = task.state === "success"
    const body = success
      ? { code: 200, msg: "Playground task completed successfully.", data: { ...recordOf(task), remainedCredits: credits } }
      : { code: 501, msg: "Playground task failed.", data: { ...recordOf(task), consumeCredits: 0 } }
    try {
      const response = await fetch(task.callBackUrl, {
        method: "POST",
        headers: { "content-type": "application/json", ...signatureHeaders(task.taskId) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000)
      })
      await response.arrayBuffer()
      deliveries.push({ taskId: task.taskId, url: task.callBackUrl, status: response.status, at: now() })
    } catch {
      deliveries.push({ taskId: task.taskId, url: task.callBackUrl, status: "error", at: now() })
    }
  }

  /** Moves every task to its state at `now()` and sends callbacks for those that just finished. */
  const settle = async () => {
    const sends: Array<Promise<void>> = []
    for (const task of tasks.values()) {
      const next = stateAt(task, now())
      if (next === task.state) continue
      task.state = next
      if ((next === "success" || next === "fail") && !task.callbackSent) {
        task.completedAt = task.createdAt + phases.waitingMs + phases.queuingMs + phases.generatingMs
        if (next === "success") credits -= simModels[task.model]?.cost ?? 0
        task.callbackSent = true
        if (task.callBackUrl === undefined) continue
        if (task.callbackMode === "lose") {
          if (chaos !== undefined) chaosStats.lostCallbacks++
          deliveries.push({ taskId: task.taskId, url: task.callBackUrl, status: "lost", at: now() })
        } else {
          if (task.callbackMode === "duplicate" && chaos !== undefined) chaosStats.duplicatedCallbacks++
          sends.push(
            postCallback(task).then(() => (task.callbackMode === "duplicate" ? postCallback(task) : undefined))
          )
        }
      }
    }
    await Promise.all(sends)
  }

  const scheduleSettle = (task: SimTask) => {
    if (manual || task.outcome._tag === "Stuck") return
    for (const at of [phases.waitingMs, phases.waitingMs + phases.queuingMs, phases.waitingMs + phases.queuingMs + phases.generatingMs]) {
      const timer = setTimeout(() => {
        timers.delete(timer)
        void settle()
      }, at + 1)
      timers.add(timer)
    }
  }

  /** Answers with an injected fault if one is queued; true when it did. */
  const injected = (res: ServerResponse, queue: Array<FaultAnswer>): boolean => {
    const fault = queue.shift()
    if (fault === undefined) return false
    switch (fault._tag) {
      case "Hang":
        hanging.add(res)
        res.on("close", () => hanging.delete(res))
        return true
      case "Raw":
        res.writeHead(fault.httpStatus, { "content-type": "text/plain" })
        res.end(fault.body)
        return true
      case "Code":
        json(res, fault.httpStatus ?? 200, envelope(fault.code, fault.msg, null))
        return true
    }
  }

  const createTask = async (req: IncomingMessage, res: ServerResponse) => {
    const at = now()
    const answer = (status: number, code: number, msg: string, data: unknown = null) => {
      attempts.push({ at, status: code })
      json(res, status, envelope(code, msg, data))
    }
    if (faults.createTask.length > 0) {
      attempts.push({ at, status: -1 })
      injected(res, faults.createTask)
      return
    }
    const transient = chaosTransient()
    if (transient !== undefined) {
      chaosStats.transientCreateTask++
      attempts.push({ at, status: transient._tag === "Code" ? transient.code : transient._tag === "Raw" ? transient.httpStatus : -1 })
      injected(res, [transient])
      return
    }
    if (rateLimit !== undefined) {
      // KIE counts what it admitted in the trailing window, and drops the rest.
      const admitted = attempts.filter((a) => a.status === 200 && a.at > at - rateLimit.windowMs).length
      if (admitted >= rateLimit.limit) return answer(200, 429, "Rate limit exceeded: 20 requests per 10 seconds")
    }
    let body: { model?: unknown; input?: unknown; callBackUrl?: unknown }
    try {
      body = JSON.parse((await readBody(req)).toString("utf8"))
    } catch {
      return answer(200, 400, "Request body must be JSON")
    }
    if (typeof body.model !== "string" || body.model === "") return answer(200, 422, "model is required")
    const model = simModels[body.model]
    if (model === undefined) return answer(200, 422, "The page does not exist or is not published")
    if (typeof body.input !== "object" || body.input === null) return answer(200, 422, "input is required")
    const input = body.input as Record<string, unknown>
    const problem = validateInput(model, input)
    if (problem !== undefined) return answer(200, 422, problem)
    if (body.callBackUrl !== undefined && (typeof body.callBackUrl !== "string" || !/^https?:\/\//.test(body.callBackUrl))) {
      return answer(200, 422, "callBackUrl must be a URL")
    }
    if (credits < model.cost) return answer(200, 402, "The current credits are insufficient. Please top up.")
    // An image the simulator was asked to host but does not have fails like KIE's fetch would.
    const missingImage = imageUrlsOf(model, input).some((url) => url.startsWith(`${baseUrl}/files/`) && !files.has(url.slice(baseUrl.length + 7)))
    const taskId = `task_${body.model.split("/")[0]}_${at}_${++sequence}`
    const fate = missingImage ? {} : chaosFate(input)
    const task: SimTask = {
      taskId,
      model: body.model,
      input,
      callBackUrl: body.callBackUrl as string | undefined,
      createdAt: at,
      outcome: missingImage
        ? { _tag: "Fail", failCode: "400", failMsg: "Get image info failed" }
        : faults.outcomes.shift() ?? fate.outcome ?? { _tag: "Success" },
      callbackMode: fate.callbacks ?? faults.callbacks,
      state: "waiting",
      completedAt: undefined,
      callbackSent: false
    }
    tasks.set(taskId, task)
    scheduleSettle(task)
    answer(200, 200, "success", { taskId })
  }

  const recordInfo = async (url: URL, res: ServerResponse) => {
    if (injected(res, faults.recordInfo)) return
    const transient = chaosTransient()
    if (transient !== undefined) {
      chaosStats.transientRecordInfo++
      injected(res, [transient])
      return
    }
    await settle()
    const taskId = url.searchParams.get("taskId")
    if (taskId === null || taskId === "") return json(res, 200, envelope(400, "taskId is required", null))
    const task = tasks.get(taskId)
    if (task === undefined || now() - task.createdAt < faults.invisibleForMs) {
      return json(res, 200, envelope(422, "recordInfo is null", null))
    }
    json(res, 200, envelope(200, "success", recordOf(task)))
  }

  const storeFile = (res: ServerResponse, uploadPath: string, fileName: string, bytes: Buffer, mimeType: string) => {
    const path = `${uploadPath.replace(/^\/+|\/+$/g, "") || "uploads"}/${fileName}`
    files.set(path, { bytes, mimeType })
    const url = `${baseUrl}/files/${path}`
    const data = faults.uploadAnswersFileUrl
      ? { fileId: path, fileUrl: url, originalName: fileName, uploadPath, uploadTime: new Date(now()).toISOString() }
      : { fileName, filePath: path, downloadUrl: url, fileSize: bytes.length, mimeType, uploadedAt: new Date(now()).toISOString() }
    json(res, 200, { success: true, code: 200, msg: "File uploaded successfully", data })
  }

  const streamUpload = async (req: IncomingMessage, res: ServerResponse) => {
    if (injected(res, faults.upload)) return
    const contentType = req.headers["content-type"] ?? ""
    if (!contentType.startsWith("multipart/form-data")) {
      return json(res, 200, { success: false, code: 400, msg: "multipart/form-data expected", data: null })
    }
    const form = await new Response(await readBody(req), { headers: { "content-type": contentType } }).formData()
    const file = form.get("file")
    if (file === null || typeof file === "string") {
      return json(res, 200, { success: false, code: 400, msg: "file is required", data: null })
    }
    const fileName = String(form.get("fileName") ?? (file as File).name ?? `upload-${++sequence}`)
    const bytes = Buffer.from(await file.arrayBuffer())
    storeFile(res, String(form.get("uploadPath") ?? ""), fileName, bytes, file.type || "application/octet-stream")
  }

  const base64Upload = async (req: IncomingMessage, res: ServerResponse) => {
    if (injected(res, faults.upload)) return
    let body: { base64Data?: unknown; uploadPath?: unknown; fileName?: unknown }
    try {
      body = JSON.parse((await readBody(req)).toString("utf8"))
    } catch {
      return json(res, 200, { success: false, code: 400, msg: "Request body must be JSON", data: null })
    }
    if (typeof body.base64Data !== "string" || body.base64Data === "") {
      return json(res, 200, { success: false, code: 400, msg: "base64Data is required", data: null })
    }
    const match = /^data:([^;]+);base64,(.*)$/s.exec(body.base64Data)
    const mimeType = match?.[1] ?? "application/octet-stream"
    const bytes = Buffer.from(match?.[2] ?? body.base64Data, "base64")
    const fileName = typeof body.fileName === "string" && body.fileName !== "" ? body.fileName : `upload-${++sequence}`
    storeFile(res, typeof body.uploadPath === "string" ? body.uploadPath : "", fileName, bytes, mimeType)
  }

  // Authenticated API requests by route ("POST /api/v1/jobs/createTask"), for per-job cost figures.
  const requestCounts = new Map<string, number>()

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", baseUrl)
    if (req.method === "GET" && url.pathname.startsWith("/files/")) {
      const file = files.get(decodeURIComponent(url.pathname.slice(7)))
      if (file === undefined) return json(res, 404, { code: 404, msg: "Not Found" })
      res.writeHead(200, { "content-type": file.mimeType, "content-length": file.bytes.length })
      return res.end(file.bytes)
    }
    if (req.method === "GET" && url.pathname.startsWith("/results/")) {
      res.writeHead(200, { "content-type": "video/mp4", "content-length": fakeVideo.length })
      return res.end(fakeVideo)
    }
    // Cloudflare in front of KIE turns away clients that do not name themselves.
    const agent = req.headers["user-agent"] ?? ""
    if (agent === "" || agent === "node" || agent === "undici") {
      res.writeHead(403, { "content-type": "text/plain" })
      return res.end("error code: 1010")
    }
    if (faults.latencyMs > 0) await sleep(faults.latencyMs)
    // KIE answers an auth failure with HTTP 200 and the real code in the body.
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return json(res, 200, { code: 401, msg: "You do not have access permissions", data: null })
    }
    const route = `${req.method} ${url.pathname}`
    requestCounts.set(route, (requestCounts.get(route) ?? 0) + 1)
    const seen = arrivals.get(route)
    if (seen === undefined) arrivals.set(route, [now()])
    else seen.push(now())
    switch (route) {
      case "POST /api/v1/jobs/createTask":
        return createTask(req, res)
      case "GET /api/v1/jobs/recordInfo":
        return recordInfo(url, res)
      case "GET /api/v1/chat/credit":
        if (injected(res, faults.credits)) return
        await settle()
        return json(res, 200, envelope(200, "success", credits))
      case "POST /api/file-stream-upload":
        return streamUpload(req, res)
      case "POST /api/file-base64-upload":
        return base64Upload(req, res)
      default:
        return json(res, 200, { code: 404, msg: "Not Found", data: null })
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { code: 500, msg: `simulator error: ${String(error)}`, data: null })
    })
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve))
  const address = server.address() as AddressInfo
  baseUrl = `http://${options.host ?? "127.0.0.1"}:${address.port}`

  return {
    requestCounts: () => new Map(requestCounts),
    url: baseUrl,
    apiKey,
    get faults() {
      return faults
    },
    tasks: () => [...tasks.values()].map((task) => ({ ...task, state: stateAt(task, now()) })),
    task: (taskId) => {
      const task = tasks.get(taskId)
      return task === undefined ? undefined : { ...task, state: stateAt(task, now()) }
    },
    uploads: () => [...files.entries()].map(([path, file]) => ({ path, size: file.bytes.length, mimeType: file.mimeType })),
    callbacks: () => [...deliveries],
    createAttempts: () => [...attempts],
    credits: () => credits,
    setCredits: (value) => {
      credits = value
    },
    setFaults: (partial) => {
      faults = { ...faults, ...partial }
    },
    resetFaults: () => {
      faults = noFaults()
    },
    now,
    advance: async (ms) => {
      if (!manual) throw new Error("advance() needs a simulator started with clock: \"manual\"")
      virtualNow += ms
      await settle()
    },
    resendCallback: async (taskId) => {
      const task = tasks.get(taskId)
      if (task !== undefined) await postCallback(task)
    },
    setChaos: (next) => {
      chaos = next
      chaosStream = seededStream(next?.seed ?? 0)
      chaosStats = emptyChaosStats()
    },
    chaosStats: () => ({ ...chaosStats }),
    requestTimes: (route) => route === undefined ? [...arrivals.values()].flat().sort((a, b) => a - b) : [...(arrivals.get(route) ?? [])],
    rateStats,
    close: async () => {
      for (const timer of timers) clearTimeout(timer)
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
