/**
 * Acting as one Telegram user of a running sandbox, through the Telegram simulator's /sim/
 * control API (src/sim/telegram/control.ts), and following what the bot does in answer.
 *
 * The wait ends on what the bot does, never on its wording: the update has been taken by
 * the bot (confirmed by its next getUpdates, or its webhook answered), the bot has answered
 * (a call to this user's chat, or the answer to the pressed button), the bot has no
 * unfinished job (`jobs_in_flight` on its /metrics, which the sandbox's runner serves), and
 * the chat has been quiet for a moment. A job of the sandbox takes about 15 s.
 */
import { Clock, Context, Data, Duration, Effect, Option } from "effect"
import { type ChatMessage, concernsUser, describeCall } from "./sandbox-print.js"
import type { BotCall } from "./telegram/call-log.js"

export class SandboxError extends Data.TaggedError("SandboxError")<{ readonly message: string }> {}

/** Where the CLI prints: the terminal, or a test's list of lines. */
export class SandboxOutput extends Context.Tag("sim/SandboxOutput")<SandboxOutput, {
  readonly line: (text: string) => Effect.Effect<void>
}>() {}

export interface SandboxTarget {
  /** The Telegram simulator, e.g. http://127.0.0.1:34937. */
  readonly simUrl: string
  /** The bot's HTTP server (for /metrics), when known. */
  readonly botUrl: Option.Option<string>
  readonly userId: number
  /** The language the user's app is set to, when one was asked for. */
  readonly language: Option.Option<string>
}

export interface WaitPolicy {
  /** Silence in the chat, once everything else is done, that ends the wait. */
  readonly quiet: Duration.DurationInput
  /** Without the bot's job count, the silence that has to do instead. */
  readonly quietBlind: Duration.DurationInput
  /** How long after taking the update the bot may stay silent before the CLI says so. */
  readonly noAnswer: Duration.DurationInput
  /** The longest wait, whatever happens. */
  readonly limit: Duration.DurationInput
}

export const defaultWaitPolicy: WaitPolicy = {
  quiet: "1 second",
  quietBlind: "20 seconds",
  noAnswer: "10 seconds",
  limit: "5 minutes"
}

const fail = (message: string) => new SandboxError({ message })

const request = (url: string, init: RequestInit = {}) =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { ...init, signal })
      return { status: response.status, text: await response.text() }
    },
    catch: () => fail(`nothing answers at ${url}`)
  })

/** One call of the simulator's control API; its `result`, or its `description` as the error. */
export const control = (target: SandboxTarget, method: "GET" | "POST", path: string, body?: unknown) =>
  request(`${target.simUrl}/sim/${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } })
  }).pipe(
    Effect.flatMap(({ status, text }) => {
      try {
        const json = JSON.parse(text) as { ok: boolean; result?: unknown; description?: string }
        return json.ok ? Effect.succeed(json.result as any) : Effect.fail(fail(json.description ?? `HTTP ${status}`))
      } catch {
        return Effect.fail(fail(`${target.simUrl} is not a Telegram simulator (HTTP ${status})`))
      }
    })
  )

/** Creates the user on first use; sets the language their app sends when one is asked for. */
export const ensureUser = (target: SandboxTarget) =>
  control(target, "POST", "users", {
    id: target.userId,
    first_name: "Sandbox",
    language_code: Option.getOrElse(target.language, () => "en")
  }).pipe(
    Effect.asVoid,
    Effect.catchIf((error) => error.message.includes("already exists"), () =>
      Option.match(target.language, {
        onNone: () => Effect.void,
        onSome: (language) => Effect.asVoid(control(target, "POST", `users/${target.userId}/language`, { language_code: language }))
      }))
  )

export const chatOf = (target: SandboxTarget): Effect.Effect<ReadonlyArray<ChatMessage>, SandboxError> =>
  control(target, "GET", `users/${target.userId}/messages`)

export const callsAfter = (target: SandboxTarget, seq: number): Effect.Effect<ReadonlyArray<BotCall>, SandboxError> =>
  control(target, "GET", `calls?since=${seq}`)

export const lastCallSeq = (target: SandboxTarget) =>
  Effect.map(callsAfter(target, 0), (calls) => calls.at(-1)?.seq ?? 0)

/** The bot's unfinished jobs (whole sandbox), from its /metrics; None when it cannot be read. */
const jobsInFlight = (target: SandboxTarget) =>
  Option.match(target.botUrl, {
    onNone: () => Effect.succeedNone,
    onSome: (url) =>
      request(`${url}/metrics`).pipe(
        Effect.map(({ status, text }) => {
          const match = /^jobs_in_flight(?:\{[^}]*\})? (\S+)$/m.exec(text)
          return status === 200 && match !== null ? Option.some(Number(match[1])) : Option.none()
        }),
        Effect.orElseSucceed(() => Option.none<number>())
      )
  })

/** What the user just did, for the wait: the updates it made, and the button query it opened. */
export interface UserAction {
  readonly updateIds: ReadonlyArray<number>
  readonly callbackQueryId?: string | undefined
  /** Whether the bot is expected to answer at all (it cannot write to a user who blocked it). */
  readonly expectsAnswer: boolean
}

/** Prints the bot's calls for this user after `since` until the bot is done with `action`. */
export const follow = (target: SandboxTarget, since: number, action: UserAction, policy: WaitPolicy = defaultWaitPolicy) =>
  Effect.gen(function*() {
    const output = yield* SandboxOutput
    const now = Clock.currentTimeMillis
    const started = yield* now
    let seq = since
    let lastNews = started
    let takenAt: number | undefined
    let answered = !action.expectsAnswer
    let lastLine = ""
    let blindNoted = false
    const pending = new Set(action.updateIds)

    while (true) {
      for (const call of yield* callsAfter(target, seq)) {
        seq = Math.max(seq, call.seq)
        if (!concernsUser(call, target.userId)) continue
        lastNews = yield* now
        const isAnswer = action.callbackQueryId === undefined
          ? call.method !== "answerPreCheckoutQuery"
          : (call.params as Record<string, unknown>).callback_query_id === action.callbackQueryId
        answered ||= isAnswer
        const line = describeCall(call, target.userId)
        // A chat action is repeated every few seconds while it lasts: one line is enough.
        if (line !== undefined && line !== lastLine) yield* output.line(line)
        if (line !== undefined) lastLine = line
      }
      for (const updateId of [...pending]) {
        const state: { pending: boolean } = yield* control(target, "GET", `updates/${updateId}`)
        if (!state.pending) pending.delete(updateId)
      }
      const at = yield* now
      if (pending.size === 0) takenAt ??= at
      if (at - started > Duration.toMillis(policy.limit)) {
        return yield* output.line(`(still waiting after ${Duration.format(policy.limit)}: see the rest later with "messages")`)
      }
      if (takenAt !== undefined) {
        const jobs = yield* jobsInFlight(target)
        if (Option.isNone(jobs) && !blindNoted) {
          blindNoted = true
          yield* output.line(
            `(the bot's /metrics at ${Option.getOrElse(target.botUrl, () => "?")} does not answer: ` +
              `waiting for ${Duration.format(policy.quietBlind)} of silence instead of the end of its jobs)`
          )
        }
        const idle = Option.match(jobs, { onNone: () => true, onSome: (n) => n === 0 })
        const quiet = Duration.toMillis(Option.isSome(jobs) ? policy.quiet : policy.quietBlind)
        if (idle && answered && at - lastNews >= quiet) return
        if (idle && !answered && at - takenAt >= Duration.toMillis(policy.noAnswer)) {
          return yield* output.line(`(the bot took the update but did not answer within ${Duration.format(policy.noAnswer)})`)
        }
      }
      yield* Effect.sleep("250 millis")
    }
  })
