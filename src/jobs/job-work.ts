/**
 * The job's effects, one small interpreter per command of the state machine
 * (./job-machine.ts): submit to KIE, poll it, send the video, refund, tell the user, edit
 * the progress message. Each does its I/O and feeds the outcome back as an event; none
 * decides what the job does next.
 */
import { Clock, Duration, Effect, Fiber, LogLevel, Option } from "effect"
import { OperatorAlerts } from "../alerts/operator-alerts.js"
import { AppConfig } from "../config/index.js"
import type { Balance } from "../domain/balance.js"
import { type JobFailure, retryHelps } from "../domain/job-failure.js"
import { type JobId, UserId } from "../domain/ids.js"
import type { TelegramError } from "../errors/telegram-errors.js"
import { failureText, languageOf, messagesFor } from "../i18n/index.js"
import { KieCallbackAuth } from "../kie/callback-auth.js"
import { KieCircuitBreaker } from "../kie/circuit-breaker.js"
import { KieClient } from "../kie/kie-client.js"
import { KieSubmitter } from "../kie/kie-submitter.js"
import { findModel } from "../kie/models.js"
import { lastPollRetry } from "../kie/retry-schedules.js"
import { logFailure } from "../observability/error-summary.js"
import { UserEntity } from "../protocols/user-protocol.js"
import { CreditLedger } from "../storage/credit-ledger.js"
import { type JobChanges, type JobRecord, storedNow } from "../storage/job-repo.js"
import { againCallbackData, cancelCallbackData } from "../telegram/callback-data.js"
import { TelegramGateway } from "../telegram/gateway.js"
import { answerLeadMs } from "../telegram/outgoing-limits.js"
import type { Acknowledgement } from "./job-acknowledgement.js"
import { failureOf, isCancellable, type MachineEvent, type MachineState, type PollResult, type ProgressText } from "./job-machine.js"
import { cancelOfferedAfterMs, deliveryRetry, kieClassPolicy, videoDeferral } from "./job-policy.js"
import { makePhotoUploads } from "./photo-uploads.js"
import { settleWithUser } from "./settle-with-user.js"

/** What a run is working on: the row as last written, the machine's state, and the way back to it. */
export interface RunContext {
  readonly row: JobRecord
  readonly state: MachineState
  readonly acknowledgement: Acknowledgement
  /** Feeds an outcome back to the machine; false when the job moved elsewhere (the run stops). */
  readonly feed: (event: MachineEvent) => Effect.Effect<boolean>
  /** Columns for the next write of the job (or, failing one, for a write when the run stops). */
  readonly stage: (changes: JobChanges) => Effect.Effect<void>
  /** The user's balance as the write to `delivering` found it, for the video's caption. */
  readonly balance: Balance | undefined
}

const chatOf = (job: JobRecord) => Number(job.chat_id)
const langOf = (job: JobRecord) => languageOf(job.language)
const jobIdOf = (job: JobRecord) => job.id as JobId
const targetOf = (job: JobRecord) => ({
  chatId: chatOf(job),
  storedMessageId: job.progress_message_id === null ? null : Number(job.progress_message_id),
  askedAtMs: Number(job.created_at_ms ?? 0)
})

export const makeJobWork = Effect.gen(function*() {
  const gateway = yield* TelegramGateway
  const kie = yield* KieClient
  const submitter = yield* KieSubmitter
  const breaker = yield* KieCircuitBreaker
  const callbackAuth = yield* KieCallbackAuth
  const users = yield* UserEntity.client
  const ledger = yield* CreditLedger
  const photos = yield* makePhotoUploads
  const alerts = yield* OperatorAlerts
  const { jobs: timings, telegram: { messagesPerSecond: telegramPerSecond } } = yield* AppConfig
  // Operators (and the chaos test) may cap every model's deadline with KIE_TASK_DEADLINE.
  const deadlineOf = (model: { readonly deadline: Duration.Duration } | undefined) =>
    Option.match(timings.taskDeadlineMs, {
      onNone: () => model?.deadline ?? Duration.zero,
      onSome: (ms) => Duration.millis(ms)
    })
  const callbacksOn = (job: JobRecord) => Option.isSome(callbackAuth.callbackUrl(job.id))

  const cancelKeyboard = (job: JobRecord) => [[{ text: messagesFor(langOf(job)).buttons.cancel, callbackData: cancelCallbackData(job.id) }]]

  const textOf = (job: JobRecord, text: ProgressText) => {
    const progress = messagesFor(langOf(job)).progress
    switch (text._tag) {
      case "Paused":
        return progress.paused(job.cost)
      case "Generating":
        return progress.generating(text.elapsedMs)
      case "Slow":
        return progress.slow(text.elapsedMs)
      case "Done":
        return progress.done
      case "Ended":
        return progress.ended
    }
  }

  const showText = (context: RunContext, text: string, force: boolean) =>
    context.acknowledgement.show(targetOf(context.row), text, {
      force,
      // An edit without a keyboard removes the one the message had: Cancel goes once it can no longer work.
      keyboard: isCancellable(context.state) ? cancelKeyboard(context.row) : undefined
    })

  const show = (context: RunContext, text: ProgressText, force: boolean) => showText(context, textOf(context.row, text), force)

  /**
   * A job that has not reached its outcome posts its progress message, beside its work.
   * Cancel is offered only while the job waits before KIE (paused, or behind the rate
   * limit): a button that vanishes a second later cannot be pressed.
   */
  const acknowledge = (context: Pick<RunContext, "row" | "state" | "acknowledgement">) =>
    context.state._tag === "Queued" || context.state._tag === "Submitting" || context.state._tag === "Polling"
      ? context.acknowledgement.post(
        targetOf(context.row),
        messagesFor(langOf(context.row)).progress.queued(0),
        context.state._tag === "Queued" && context.state.paused ? cancelKeyboard(context.row) : undefined
      )
      : Effect.void

  const submissionFailed = (context: RunContext, failure: JobFailure, kieError: Parameters<typeof failureOf>[0] | null) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      return yield* context.feed({ _tag: "SubmitFailed", failure, kie: kieError, breakerOpen: yield* breaker.isOpen, now })
    })

  /** Photo to KIE (unless the row has a fresh upload of it), then createTask; the task id is written with KIE's answer. */
  const submit = (context: RunContext) =>
    Effect.gen(function*() {
      const job = context.row
      const model = findModel(job.model)
      if (model === undefined) return yield* submissionFailed(context, { _tag: "KieOperatorError", reason: "ModelDisabled" }, null)
      // A fresh upload of the same photo was copied to the row by its admission (src/storage/admission.ts).
      let imageUrl: string
      if (job.kie_file_url !== null) {
        imageUrl = job.kie_file_url
      } else {
        const uploaded = yield* photos.uploadOf(jobIdOf(job), job.photo_file_id)
        // Queued for a permit: the run ends here and the upload wakes the job when it is done.
        if (Option.isNone(uploaded)) return false
        if (uploaded.value._tag === "Left") return yield* submissionFailed(context, uploaded.value.left.failure, uploaded.value.left.kie)
        imageUrl = uploaded.value.right
        yield* context.stage({ kie_file_url: imageUrl })
      }
      let fed = true
      const created = yield* submitter.submit({
        model: model.slug,
        input: model.buildInput({ imageUrl, prompt: job.prompt, durationSeconds: job.duration_seconds }),
        callBackUrl: Option.getOrUndefined(callbackAuth.callbackUrl(job.id))
      }, {
        onQueued: (wait) =>
          Duration.toMillis(wait) >= cancelOfferedAfterMs
            ? showText(context, messagesFor(langOf(job)).progress.queued(Duration.toMillis(wait)), false)
            : Effect.void,
        // Inside the call's uninterruptible region: the task id cannot be cut off from its creation.
        // The deadline counts from the task's creation, not from the start of this step.
        onCreated: (taskId) =>
          Effect.flatMap(storedNow, (createdAt) =>
            context.feed({
              _tag: "TaskCreated",
              taskId,
              deadlineMs: createdAt + Duration.toMillis(deadlineOf(model)),
              now: createdAt,
              callbacksOn: callbacksOn(job)
            })).pipe(Effect.map((going) => {
              fed = going
            }))
      }).pipe(Effect.either)
      if (created._tag === "Left") return yield* submissionFailed(context, failureOf(created.left), created.left)
      return fed
    }).pipe(Effect.orDie)

  /**
   * One recordInfo; at the deadline the task's last chance, so a transient blip is retried.
   * `answer`, when given, is a recordInfo made already (the waker's), taken instead.
   */
  const poll = (context: RunContext, taskId: string, lastChance: boolean, answer?: PollResult) =>
    Effect.gen(function*() {
      const job = context.row
      const submittedAt = Number(job.poll_deadline_ms ?? 0) - Duration.toMillis(deadlineOf(findModel(job.model)))
      const result: PollResult = answer ?? (yield* breaker.observe(kie.getTask(taskId, { createdAt: submittedAt })).pipe(
        lastChance ? Effect.retry(lastPollRetry) : (effect) => effect,
        Effect.map((task): PollResult => {
          if (task._tag === "Failed") return { _tag: "Failed", error: task.error }
          if (task._tag === "Succeeded" && task.resultUrls[0] !== undefined) return { _tag: "Succeeded", resultUrl: task.resultUrls[0] }
          return { _tag: "Running" }
        }),
        Effect.catchAll((error) =>
          Effect.succeed<PollResult>(
            kieClassPolicy[error._tag].poll === "task-failed" ? { _tag: "Failed", error } : { _tag: "Unanswered", error }
          )
        )
      ))
      const now = yield* Clock.currentTimeMillis
      return yield* context.feed({
        _tag: "Polled",
        result,
        now,
        createdAtMs: Number(job.created_at_ms ?? now),
        breakerOpen: yield* breaker.isOpen,
        callbacksOn: callbacksOn(job),
        progressPosted: yield* context.acknowledgement.isPosted(targetOf(job))
      })
    })

  // Once per video, not every 4 s: it shows for up to 5 s or until the video arrives (~5 calls per job saved).
  const showUploading = (chatId: number) => gateway.sendChatAction(chatId, "upload_video").pipe(Effect.ignore)

  // Behind the answers placed before it (src/telegram/outgoing-limits.ts); in line behind thousands, it held its entity for minutes.
  const videoWait = (context: RunContext, readyAtMs: number) =>
    Effect.map(context.acknowledgement.answersBefore(readyAtMs + answerLeadMs), (answers) => videoDeferral(answers, telegramPerSecond))

  /** Sends the video with its caption and button, retrying what Telegram fails transiently; a video once sent is not sent again. */
  const sendVideo = (context: RunContext, resultUrl: string) =>
    Effect.gen(function*() {
      const job = context.row
      if (job.video_message_id !== null) return yield* context.feed({ _tag: "VideoSent" })
      const answered = yield* context.acknowledgement.beforeOutcome(targetOf(job))
      const now = yield* Clock.currentTimeMillis
      // In line as ready when KIE finished, however long it waited since (src/telegram/outgoing-limits.ts).
      const readyAtMs = Number(job.kie_succeeded_at_ms ?? now)
      const place = answered.priority === "answer" ? answered : { askedAtMs: readyAtMs }
      const wait = answered.priority === "answer" ? 0 : yield* videoWait(context, readyAtMs)
      if (wait > 0) return yield* context.feed({ _tag: "VideoDeferred", untilMs: now + wait })
      const lang = langOf(job)
      const messages = messagesFor(lang)
      // Only for the caption: the stored balance (a capture changes none).
      const balance = context.balance ?? (yield* ledger.balanceOf(UserId.make(Number(job.user_id))).pipe(Effect.orDie))
      const action = yield* Effect.fork(showUploading(chatOf(job)))
      // Once Telegram has answered, the message id is staged before an interruption can land
      // (a request on its way is let finish): it goes out with the delivered write, or on its
      // own if the run stops first, and the next run sends no second video.
      const sendOnce = gateway.sendVideo(chatOf(job), {
        url: resultUrl,
        caption: messages.videoCaption(balance),
        keyboard: [[{ text: messages.buttons.generateAgain, callbackData: againCallbackData(job.id) }]],
        tooBigText: (size) => messages.videoTooBig(resultUrl, size, balance),
        onDelivered: (delivery) => context.stage({ video_message_id: delivery.messageId }),
        ...place
      })
      const sent = yield* sendOnce.pipe(Effect.retry(deliveryRetry), Effect.either, Effect.ensuring(Fiber.interrupt(action)))
      return yield* context.feed(sent._tag === "Left" ? { _tag: "VideoFailed", reason: sent.left.reason } : { _tag: "VideoSent" })
    })

  /** The unit back, through the user entity that owns the balance; the ledger is asked first. */
  const refund = (context: RunContext, failure: JobFailure) =>
    Effect.gen(function*() {
      const jobId = jobIdOf(context.row)
      const settled = yield* ledger.settlementOf(jobId).pipe(Effect.orDie)
      if (Option.isSome(settled)) return yield* context.feed({ _tag: "RefundAnswered", refunded: settled.value === "refund" })
      const answer = yield* settleWithUser(
        (attempt) => users(String(context.row.user_id)).Refund({ jobId, reason: failure._tag, attempt }),
        undefined,
        (attempts) =>
          alerts.alert({
            subject: "a job's settlement gets no reply",
            detail: `job ${jobId}: ${attempts} asks to its user's entity went unanswered; asking again every 15 minutes`
          })
      ).pipe(
        Effect.catchTags({ MailboxFull: Effect.die, AlreadyProcessingMessage: Effect.die, PersistenceError: Effect.die }),
        Effect.either
      )
      const refunded = answer._tag === "Right" ||
        (answer.left._tag === "JobAlreadySettled" && answer.left.settledAs === "refund")
      if (answer._tag === "Left" && !refunded) yield* logFailure(LogLevel.Error, "the refund was refused", answer.left)
      return yield* context.feed({ _tag: "RefundAnswered", refunded })
    })

  /** Why the job ended, its credit back, and Try again where it can help. */
  const tell = (context: RunContext, failure: JobFailure, refunded: boolean) =>
    Effect.gen(function*() {
      const job = context.row
      const lang = langOf(job)
      const messages = messagesFor(lang)
      const place = yield* context.acknowledgement.beforeOutcome(targetOf(job))
      yield* show(context, { _tag: "Ended" }, true)
      const keyboard = retryHelps(failure) ? [[{ text: messages.buttons.tryAgain, callbackData: againCallbackData(job.id) }]] : undefined
      const balance = refunded
        ? `\n${messages.balanceLine(yield* ledger.balanceOf(UserId.make(Number(job.user_id))).pipe(Effect.orDie))}`
        : ""
      // Told is written once Telegram has answered, before an interruption can land: a runner
      // stopped between the two told the user again from the job's next run.
      let told: boolean | undefined
      const onSent = () => Effect.map(context.feed({ _tag: "Told" }), (going) => void (told = going))
      const text = failureText(lang, failure, job.cost) + balance
      yield* gateway.sendMessage(chatOf(job), text, { keyboard, onSent, ...place }).pipe(
        Effect.retry(deliveryRetry),
        Effect.catchAll((error: TelegramError) => logFailure(LogLevel.Warning, "could not tell the user about the refund", error))
      )
      return told ?? (yield* context.feed({ _tag: "Told" }))
    })

  return {
    breakerOpen: breaker.isOpen,
    readyToSubmit: photos.readyToSubmit,
    acknowledge,
    show,
    submit,
    poll,
    sendVideo,
    refund,
    tell
  } as const
})
