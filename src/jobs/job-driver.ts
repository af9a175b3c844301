/**
 * Drives one job from its stored state to a terminal one. Each step reads the row, does
 * its work, and writes the next state (with its event) before the next step begins, so
 * the driver can be stopped anywhere and started again from the top (a restarted handler does):
 * a step whose checkpoint is already written skips the work.
 *
 *   queued ─► submitting ─► polling ─► delivering ─► delivered
 *      ▲           │            │            │
 *      └─ breaker ─┘            │            └──► (outcome = refund) ─► refunded
 *                  └◄─ resubmit ┘
 *
 * A failure is first recorded as the job's decided outcome ("refund", with its class);
 * the refund, the user's message and the terminal state follow from that record.
 */
import { Chunk, Clock, Duration, Effect, Either, Fiber, LogLevel, Option, Queue, Ref, Schedule } from "effect"
import { logFailure } from "../observability/error-summary.js"
import { UserEntity } from "../protocols/user-protocol.js"
import { AppConfig } from "../config/index.js"
import { type JobId, UserId } from "../domain/ids.js"
import type { KieError } from "../errors/kie-errors.js"
import type { TelegramError } from "../errors/telegram-errors.js"
import { KieCallbackAuth } from "../kie/callback-auth.js"
import { KieCircuitBreaker } from "../kie/circuit-breaker.js"
import { OperatorAlerts } from "../alerts/operator-alerts.js"
import { KieClient, type KieTask } from "../kie/kie-client.js"
import { findModel } from "../kie/models.js"
import { KieSubmitter } from "../kie/kie-submitter.js"
import { callbackSafetyNetCadence, failedPollRetryAfter, lastPollRetry, pollCadence } from "../kie/retry-schedules.js"
import { recordDelivery, recordJobRefunded } from "../observability/metrics.js"
import { CreditLedger } from "../storage/credit-ledger.js"
import { JobRecord, JobRepo, storedNow } from "../storage/job-repo.js"
import { againCallbackData, cancelCallbackData } from "../telegram/callback-data.js"
import { TelegramGateway } from "../telegram/gateway.js"
import { failureText, languageOf, messagesFor } from "../i18n/index.js"
import { type JobFailure, retryHelps } from "../telegram/replies.js"
import { makeProgress } from "./job-progress.js"
import { settleWithUser } from "./settle-with-user.js"
import { TransferPermits } from "./transfer-permits.js"
import {
  chatActionInterval,
  deliveryRetry,
  generationAttempts,
  operatorWaitLimit,
  photoDownloadRetry,
  uploadReuseWindow,
  userEntityReplyTimeout
} from "./job-policy.js"

const failureOf = (error: KieError): JobFailure => ({ _tag: error._tag, reason: error.reason })

const encodeFailure = (failure: JobFailure) => ({
  error_class: failure._tag,
  error_detail: "reason" in failure ? failure.reason : null
})

const decodeFailure = (job: JobRecord): JobFailure => {
  const reason = job.error_detail ?? "Unknown"
  switch (job.error_class) {
    case "KieUserError":
    case "KieTransientError":
    case "KieOperatorError":
    case "KieUnknownError":
    case "PhotoUnavailable":
    case "DeliveryFailed":
      return { _tag: job.error_class, reason }
    case "Deadline":
      return { _tag: "Deadline" }
    case "Cancelled":
      return { _tag: "Cancelled" }
    case "InternalError":
      return { _tag: "InternalError" }
    default:
      return { _tag: "KieUnknownError", reason }
  }
}

type TaskOutcome =
  | { readonly _tag: "Succeeded"; readonly resultUrl: string }
  | { readonly _tag: "Failed"; readonly error: KieError }
  | { readonly _tag: "Deadline" }

/**
 * Where a driver is and since when (Clock millis). The entity reads it when the watchdog
 * finds the job's row unchanged for long: a driver alive but stuck outside its wait for
 * KIE is logged with the place it is stuck in.
 */
export interface DriverPosition {
  readonly what:
    | "starting"
    | "reading the job"
    | "dropping a pending progress edit"
    | "interrupting the unposted acknowledgement"
    | "waiting for the acknowledgement being posted"
    | "waiting for KIE to reopen"
    | "waiting for a transfer permit"
    | "downloading the photo"
    | "uploading the photo to KIE"
    | "creating the KIE task"
    | "polling KIE"
    | "waiting for KIE"
    | "asking the balance for the caption"
    | "sending the video"
    | "settling with the user entity"
    | "settling with the user entity again"
    | "showing the job done"
    | "telling the user about the refund"
  readonly since: number
}

/** Positions where a driver may rightly stay for minutes (a generation, a KIE pause, a queue). */
export const isPatientPosition = (position: DriverPosition) =>
  position.what === "waiting for KIE" || position.what === "waiting for KIE to reopen" ||
  position.what === "creating the KIE task" || position.what === "waiting for a transfer permit"

export const makeJobDriver = Effect.gen(function*() {
  const repo = yield* JobRepo
  const gateway = yield* TelegramGateway
  const kie = yield* KieClient
  const submitter = yield* KieSubmitter
  const breaker = yield* KieCircuitBreaker
  const callbackAuth = yield* KieCallbackAuth
  const users = yield* UserEntity.client
  const ledger = yield* CreditLedger
  const transfers = yield* TransferPermits
  const alerts = yield* OperatorAlerts
  const { jobs: timings } = yield* AppConfig
  // Operators (and the chaos test) may cap every model's deadline with KIE_TASK_DEADLINE.
  const deadlineOf = (model: { readonly deadline: Duration.Duration } | undefined) =>
    Option.match(timings.taskDeadlineMs, {
      onNone: () => model?.deadline ?? Duration.zero,
      onSome: (ms) => Duration.millis(ms)
    })

  return (jobId: JobId, wake: Queue.Queue<void>, position: Ref.Ref<DriverPosition>) =>
    Effect.gen(function*() {
      // The same place again (a retry loop) keeps its first instant: a loop is not progress.
      const at = (what: DriverPosition["what"]) =>
        Effect.flatMap(Clock.currentTimeMillis, (since) =>
          Ref.update(position, (current) => current.what === what ? current : { what, since }))
      const progress = yield* makeProgress(gateway)
      const userOf = (job: JobRecord) => users(String(job.user_id))
      const settle = <A, E, R>(send: (attempt: number) => Effect.Effect<A, E, R>) =>
        settleWithUser(
          send,
          (attempt) => at(attempt === 0 ? "settling with the user entity" : "settling with the user entity again"),
          (attempts) =>
            alerts.alert({
              subject: "a job's settlement gets no reply",
              detail: `job ${jobId}: ${attempts} asks to its user's entity went unanswered; asking again every 15 minutes`
            })
        )
      const chatOf = (job: JobRecord) => Number(job.chat_id)
      const langOf = (job: JobRecord) => languageOf(job.language)

      const decideRefund = (job: JobRecord, failure: JobFailure, detail: string) =>
        repo.update(jobId, { outcome: "refund", ...encodeFailure(failure) }).pipe(
          Effect.zipRight(Effect.logWarning("job will be refunded").pipe(
            Effect.annotateLogs({ failure: failure._tag, detail, state: job.state })
          ))
        )

      // Until the job reaches KIE it can still be cancelled, so those steps keep the button.
      const cancelKeyboard = (job: JobRecord) => [[{ text: messagesFor(langOf(job)).buttons.cancel, callbackData: cancelCallbackData(jobId) }]]
      // The acknowledgement is posted only while it still answers something: once the
      // outcome is ready before it had its turn, the outcome is sent instead (see acknowledge).
      const acknowledgementTurn = yield* Ref.make<"waiting" | "posting" | "overtaken">("waiting")
      const stillWanted = Ref.modify(acknowledgementTurn, (turn) =>
        turn === "overtaken" ? [false, turn] as const : [true, "posting"] as const)
      const overtake = Ref.modify(acknowledgementTurn, (turn) =>
        turn === "waiting" ? [true, "overtaken"] as const : [false, turn] as const)
      const ensureProgressMessage = (job: JobRecord) =>
        job.progress_message_id !== null
          ? Effect.succeed(job)
          : gateway.sendProgressMessage(chatOf(job), messagesFor(langOf(job)).progress.queued(0), {
            keyboard: cancelKeyboard(job),
            stillWanted
          }).pipe(
            Effect.flatMap(Option.match({
              onNone: () => Effect.succeed(job),
              onSome: (messageId) =>
                repo.update(jobId, { progress_message_id: messageId }).pipe(
                  Effect.zipRight(Effect.sync(() => {
                    sentProgressMessageId = messageId
                  })),
                  Effect.as(new JobRecord({ ...job, progress_message_id: messageId }))
                )
            })),
            // Without a progress message the job still runs; the outcome is sent anyway.
            Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not send the progress message", error).pipe(Effect.as(job)))
          )

      // The progress message may go out while a step runs with a row read before it did.
      let sentProgressMessageId: number | undefined
      const progressMessageOf = (job: JobRecord) =>
        job.progress_message_id !== null ? Number(job.progress_message_id) : sentProgressMessageId

      const show = (job: JobRecord, text: string, options?: { readonly force?: boolean }) =>
        progressMessageOf(job) === undefined
          ? Effect.void
          : progress.show(chatOf(job), progressMessageOf(job)!, text, {
            ...options,
            keyboard: job.kie_task_id === null && job.outcome === null && (job.state === "queued" || job.state === "submitting")
              ? cancelKeyboard(job)
              : undefined
          })

      // queued: wait while KIE is paused for an operator (bounded), then submit.
      const stepQueued = (job: JobRecord) =>
        Effect.gen(function*() {
          if (yield* breaker.isOpen) {
            yield* at("waiting for KIE to reopen")
            yield* show(job, messagesFor(langOf(job)).progress.paused(job.cost), { force: true })
            const now = yield* Clock.currentTimeMillis
            const waited = now - Number(job.created_at_ms ?? now)
            const remaining = Duration.subtract(operatorWaitLimit, Duration.millis(waited))
            const reopened = yield* breaker.guard(Effect.void).pipe(
              Effect.timeout(Duration.max(remaining, Duration.zero)),
              Effect.option
            )
            if (Option.isNone(reopened)) {
              return yield* decideRefund(job, { _tag: "KieOperatorError", reason: "Paused" }, "KIE stayed unusable")
            }
          }
          yield* repo.transition(jobId, "queued", "submitting")
        })

      const submissionFailed = (job: JobRecord, error: KieError) =>
        Effect.gen(function*() {
          if (error._tag === "KieOperatorError" && (yield* breaker.isOpen)) {
            // KIE is paused for an operator; the job waits in the queue, its credit untouched.
            return yield* repo.transition(jobId, "submitting", "queued", {}, error.message)
          }
          // Anything else, including an operator error about this request alone, would fail
          // again on resubmission: the user gets the unit back.
          return yield* decideRefund(job, failureOf(error), error.message)
        })

      const submit = (job: JobRecord) =>
        Effect.gen(function*() {
          const model = findModel(job.model)
          if (model === undefined) {
            return yield* decideRefund(job, { _tag: "KieOperatorError", reason: "ModelDisabled" }, `unknown model ${job.model}`)
          }
          // No "uploading" edit: the progress message still says queued until the first poll
          // says generating. Each edit is one of Telegram's 30 messages a second for the
          // whole bot, and an edit that is stale a second later buys the user nothing.
          // "Generate again" sends the same photo: its KIE copy is reused while it is fresh.
          const now = yield* Clock.currentTimeMillis
          const earlierUpload = yield* repo.recentUploadOf(
            Number(job.user_id),
            job.photo_file_id,
            now - Duration.toMillis(uploadReuseWindow)
          )
          let imageUrl: string
          if (Option.isSome(earlierUpload)) {
            imageUrl = earlierUpload.value
          } else {
            // The photo's bytes are held from its download to the end of its upload: one permit.
            yield* at("waiting for a transfer permit")
            const uploaded = yield* transfers.withPermit(Effect.gen(function*() {
              yield* at("downloading the photo")
              const photo = yield* gateway.downloadFile(job.photo_file_id).pipe(Effect.retry(photoDownloadRetry), Effect.either)
              if (photo._tag === "Left") {
                yield* decideRefund(job, { _tag: "PhotoUnavailable", reason: photo.left.reason }, photo.left.message)
                return Option.none<string>()
              }
              yield* at("uploading the photo to KIE")
              const uploaded = yield* breaker.observe(submitter.uploadFile(photo.right)).pipe(Effect.either)
              if (uploaded._tag === "Left") {
                yield* submissionFailed(job, uploaded.left)
                return Option.none<string>()
              }
              return Option.some(uploaded.right.url)
            }))
            if (Option.isNone(uploaded)) return
            imageUrl = uploaded.value
            yield* repo.update(jobId, { kie_file_url: imageUrl })
          }
          // The task id is saved in the same uninterruptible step as the createTask answer, so
          // a shutdown between the two cannot make the next owner create a second task.
          yield* at("creating the KIE task")
          const created = yield* submitter.submit({
            model: model.slug,
            input: model.buildInput({ imageUrl, prompt: job.prompt, durationSeconds: job.duration_seconds }),
            callBackUrl: Option.getOrUndefined(callbackAuth.callbackUrl(jobId))
          }, {
            onQueued: (wait) => show(job, messagesFor(langOf(job)).progress.queued(Duration.toMillis(wait))),
            // The deadline counts from the task's creation, not from the start of this step
            // (the photo's download, the upload and the rate limit's queue came before).
            onCreated: (taskId) =>
              storedNow.pipe(
                Effect.flatMap((createdAt) =>
                  repo.transition(jobId, "submitting", "polling", {
                    kie_task_id: taskId,
                    attempts: job.attempts + 1,
                    poll_deadline_ms: createdAt + Duration.toMillis(deadlineOf(model))
                  }, `task ${taskId}`)
                ),
                Effect.orDie,
                Effect.asVoid
              )
          }).pipe(Effect.either)
          if (created._tag === "Left") return yield* submissionFailed(job, created.left)
        })

      // submitting: a job that already has a task never creates a second one.
      const stepSubmitting = (job: JobRecord) =>
        job.kie_task_id !== null
          ? repo.transition(jobId, "submitting", "polling", {}, "task already created")
          : submit(job)

      /**
       * Polls on the backing-off cadence; a callback's wake-up cuts the wait short. When KIE
       * calls back, polling is only the safety net for a lost callback: the first poll waits
       * for the callback's wake-up or a minute, whichever is first, and later ones are
       * minutes apart (with 10,000 jobs in flight every second of interval is KIE traffic).
       * At the deadline KIE is asked one last time, so a result that is ready is not refunded.
       */
      const awaitTask = (job: JobRecord, taskId: string, deadline: number, submittedAt: number) =>
        Effect.gen(function*() {
          const callbacksOn = Option.isSome(callbackAuth.callbackUrl(jobId))
          // The cadence's delays, stepped by hand: each wait may be cut short by a wake-up.
          const delays = Chunk.toReadonlyArray(
            yield* Schedule.run(
              Schedule.delays(callbacksOn ? callbackSafetyNetCadence : pollCadence),
              0,
              Array.from({ length: 64 }, () => undefined)
            )
          )
          let failedPolls = 0
          for (let poll = 0;; poll++) {
            const now = yield* Clock.currentTimeMillis
            const atDeadline = now >= deadline
            let pollFailed = false
            yield* at("polling KIE")
            // Right after createTask the answer is "waiting"; with callbacks nobody asks yet.
            // A task older than that (a driver restarted after a failover) is asked at once:
            // its callback may have gone to the dead runner.
            const task = callbacksOn && poll === 0 && !atDeadline && now - submittedAt < Duration.toMillis(delays[0] ?? Duration.zero)
              ? undefined
              : yield* breaker.observe(kie.getTask(taskId, { createdAt: submittedAt })).pipe(
                // The last poll is the task's last chance: a transient blip must not refund it.
                atDeadline ? Effect.retry(lastPollRetry) : (effect) => effect,
                Effect.map((task): KieTask | undefined => task),
                Effect.catchAll((error) =>
                  error._tag === "KieUserError"
                    ? Effect.succeed<KieTask>({ _tag: "Failed", taskId, error })
                    // A failed poll is not a failed task: the next poll (or the deadline) decides.
                    : logFailure(LogLevel.Warning, "polling KIE failed; will poll again", error).pipe(
                      Effect.zipRight(Effect.sync(() => {
                        // An operator error (key, balance) is not fixed by asking sooner.
                        pollFailed = error._tag !== "KieOperatorError"
                      })),
                      Effect.as(undefined)
                    )
                )
              )
            if (task?._tag === "Succeeded") {
              const resultUrl = task.resultUrls[0]
              if (resultUrl !== undefined) return { _tag: "Succeeded", resultUrl } as TaskOutcome
            }
            if (task?._tag === "Failed") return { _tag: "Failed", error: task.error } as TaskOutcome
            if (atDeadline) return { _tag: "Deadline" } as TaskOutcome
            const elapsed = now - Number(job.created_at_ms ?? submittedAt)
            const lang = langOf(job)
            yield* show(
              job,
              elapsed > Duration.toMillis(Duration.minutes(5))
                ? messagesFor(lang).progress.slow(elapsed)
                : messagesFor(lang).progress.generating(elapsed)
            )
            // After a failed poll the next one comes on the fast cadence: the task may well be
            // done (a callback's wake-up often precedes it), and minutes of safety-net wait
            // would make a KIE blip cost the user the video.
            failedPolls = pollFailed ? failedPolls + 1 : 0
            const cadence = delays[Math.min(poll, delays.length - 1)] ?? Duration.seconds(30)
            // 5 s, 10 s, 20 s, … after consecutive failures, never slower than the cadence, so an
            // outage of KIE does not turn 10,000 jobs into thousands of polls a second.
            const delay = failedPolls > 0
              ? Duration.min(cadence, Duration.times(failedPollRetryAfter, 2 ** (failedPolls - 1)))
              : cadence
            const wait = Duration.min(delay, Duration.millis(Math.max(0, deadline - now)))
            yield* at("waiting for KIE")
            yield* Effect.raceFirst(Effect.sleep(wait), Queue.take(wake))
          }
        })

      const stepPolling = (job: JobRecord) =>
        Effect.gen(function*() {
          const model = findModel(job.model)
          const taskId = job.kie_task_id
          if (taskId === null) return yield* repo.transition(jobId, "polling", "submitting", {}, "no task id")
          const deadline = Number(job.poll_deadline_ms ?? 0)
          const submittedAt = deadline - Duration.toMillis(deadlineOf(model))
          const outcome = yield* awaitTask(job, taskId, deadline, submittedAt)
          switch (outcome._tag) {
            case "Succeeded": {
              const now = yield* storedNow
              return yield* repo.transition(jobId, "polling", "delivering", {
                result_url: outcome.resultUrl,
                kie_succeeded_at_ms: now
              })
            }
            case "Deadline":
              return yield* decideRefund(job, { _tag: "Deadline" }, `task ${taskId} passed its deadline`)
            case "Failed": {
              const error = outcome.error
              if (error._tag === "KieUserError") return yield* decideRefund(job, failureOf(error), error.message)
              if (error._tag === "KieOperatorError" && (yield* breaker.isOpen)) {
                return yield* repo.transition(jobId, "polling", "queued", { kie_task_id: null }, error.message)
              }
              if (error._tag === "KieOperatorError") return yield* decideRefund(job, failureOf(error), error.message)
              if (job.attempts < generationAttempts) {
                return yield* repo.transition(jobId, "polling", "submitting", { kie_task_id: null }, `resubmit: ${error.message}`)
              }
              return yield* decideRefund(job, failureOf(error), error.message)
            }
          }
        })

      const keepUploadingAction = (chatId: number) =>
        gateway.sendChatAction(chatId, "upload_video").pipe(
          Effect.ignore,
          Effect.repeat(Schedule.spaced(chatActionInterval))
        )

      const stepDelivering = (job: JobRecord) =>
        Effect.gen(function*() {
          const lang = langOf(job)
          if (job.video_message_id === null) {
            const resultUrl = job.result_url ?? ""
            // No "sending" edit: the upload_video chat action below shows that, at no cost to
            // the bot's message budget.
            // Only for the caption: when the entity does not answer, the stored balance will do.
            yield* at("asking the balance for the caption")
            const balance = yield* userOf(job).GetBalance().pipe(
              Effect.timeout(userEntityReplyTimeout),
              Effect.catchAll(() => ledger.balanceOf(UserId.make(Number(job.user_id)))),
              Effect.orDie
            )
            const action = yield* Effect.fork(keepUploadingAction(chatOf(job)))
            // Once Telegram has answered, the message id is recorded before an interruption can
            // land. The send itself stays interruptible: the gateway waits out 429s inside it,
            // and a shutdown must not wait for those.
            const sendOnce = Effect.uninterruptibleMask((restore) =>
              restore(gateway.sendVideo(chatOf(job), {
                url: resultUrl,
                caption: messagesFor(lang).videoCaption(balance),
                keyboard: [[{ text: messagesFor(lang).buttons.generateAgain, callbackData: againCallbackData(jobId) }]],
                tooBigText: (size) => messagesFor(lang).videoTooBig(resultUrl, size, balance)
              })).pipe(
                Effect.tap((delivery) => repo.update(jobId, { video_message_id: delivery.messageId }).pipe(Effect.orDie))
              )
            )
            yield* at("sending the video")
            const sent = yield* sendOnce.pipe(Effect.retry(deliveryRetry), Effect.either, Effect.ensuring(Fiber.interrupt(action)))
            if (sent._tag === "Left") {
              return yield* decideRefund(job, { _tag: "DeliveryFailed", reason: sent.left.reason }, sent.left.message)
            }
          }
          // The ledger is the truth: a capture already written, whose reply a crash lost, is
          // not asked for again (the chaos test saw such a job wait in delivering for minutes).
          if (Option.isNone(yield* ledger.settlementOf(jobId).pipe(Effect.orDie))) {
            const captured = yield* settle((attempt) => userOf(job).Capture({ jobId, attempt })).pipe(
              Effect.catchTags({
                MailboxFull: Effect.die,
                AlreadyProcessingMessage: Effect.die,
                PersistenceError: Effect.die
              }),
              Effect.either
            )
            if (captured._tag === "Left") {
              yield* logFailure(LogLevel.Error, "delivered a video whose unit could not be captured", captured.left)
            }
          }
          if (yield* repo.transition(jobId, "delivering", "delivered")) yield* recordDelivery(job)
          yield* at("showing the job done")
          yield* show(job, messagesFor(lang).progress.done, { force: true })
        })

      // After the decision to refund: money first, then the words, then the terminal state.
      const finishRefund = (job: JobRecord) =>
        Effect.gen(function*() {
          const failure = decodeFailure(job)
          const lang = langOf(job)
          // As for the capture: a refund already in the ledger is not asked for again.
          const settled = yield* ledger.settlementOf(jobId).pipe(Effect.orDie)
          const refunded = Option.isSome(settled) && settled.value === "refund"
            ? Either.right(yield* ledger.balanceOf(UserId.make(Number(job.user_id))).pipe(Effect.orDie))
            : yield* settle((attempt) => userOf(job).Refund({ jobId, reason: failure._tag, attempt })).pipe(
              Effect.catchTags({
                MailboxFull: Effect.die,
                AlreadyProcessingMessage: Effect.die,
                PersistenceError: Effect.die
              }),
              Effect.either
            )
          const final = refunded._tag === "Right" || refunded.left._tag === "JobAlreadySettled" &&
              refunded.left.settledAs === "refund"
            ? "refunded" as const
            : "failed" as const
          if (final === "failed") yield* logFailure(LogLevel.Error, "job ended without a refund", Either.merge(refunded))
          const blocked = failure._tag === "DeliveryFailed" && failure.reason === "BlockedByUser"
          if (!blocked) {
            yield* at("telling the user about the refund")
            yield* show(job, messagesFor(lang).progress.ended, { force: true })
            const keyboard = retryHelps(failure)
              ? [[{ text: messagesFor(lang).buttons.tryAgain, callbackData: againCallbackData(jobId) }]]
              : undefined
            const balance = refunded._tag === "Right" ? `\n${messagesFor(lang).balanceLine(refunded.right)}` : ""
            yield* gateway.sendMessage(chatOf(job), failureText(lang, failure, job.cost) + balance, { keyboard }).pipe(
              Effect.retry(deliveryRetry),
              Effect.catchAll((error: TelegramError) => logFailure(LogLevel.Warning, "could not tell the user about the refund", error))
            )
          }
          if (yield* repo.transition(jobId, job.state, final, {}, failure._tag)) yield* recordJobRefunded(failure._tag)
        })

      // The progress message goes out beside the KIE submission, not before it: under load
      // Telegram's 30 messages/s is the narrowest budget, and a job waiting for its turn
      // there need not wait to be submitted. Progress messages wait behind videos and
      // refunds for that budget, so the outcome may be ready first: an acknowledgement not
      // yet posted is then dropped (the outcome answers the photo itself), and one being
      // posted is waited for, so that the video never comes before the message it answers.
      let acknowledgement: Fiber.RuntimeFiber<JobRecord> | undefined
      const acknowledge = (job: JobRecord) =>
        Effect.gen(function*() {
          const outcomeReady = job.outcome === "refund" || job.state === "delivering"
          // A "generating" update not yet posted would only come after the outcome.
          if (outcomeReady) yield* at("dropping a pending progress edit").pipe(Effect.zipRight(progress.dropPending))
          if (job.progress_message_id !== null) return job
          if (outcomeReady) {
            // A driver restarted at the outcome has nothing in flight and nothing to announce.
            if (acknowledgement === undefined) return job
            if (yield* overtake) {
              yield* at("interrupting the unposted acknowledgement")
              yield* Fiber.interrupt(acknowledgement)
              return job
            }
            yield* at("waiting for the acknowledgement being posted")
            yield* Fiber.join(acknowledgement)
            return Option.getOrElse(yield* repo.get(jobId), () => job)
          }
          // Scoped to this run: a driver that dies and starts over must not leave it behind.
          if (acknowledgement === undefined) acknowledgement = yield* Effect.forkScoped(ensureProgressMessage(job))
          return job
        })

      while (true) {
        yield* at("reading the job")
        const stored = yield* repo.get(jobId)
        if (Option.isNone(stored)) return
        if (["delivered", "refunded", "failed"].includes(stored.value.state)) return
        const step = Effect.gen(function*() {
          const job = yield* acknowledge(stored.value)
          if (job.outcome === "refund") return yield* finishRefund(job)
          switch (job.state) {
            case "queued":
              return yield* stepQueued(job)
            case "submitting":
              return yield* stepSubmitting(job)
            case "polling":
              return yield* stepPolling(job)
            case "delivering":
              return yield* stepDelivering(job)
          }
        })
        yield* step.pipe(Effect.annotateLogs({ userId: Number(stored.value.user_id) }))
      }
    }).pipe(
      Effect.scoped,
      Effect.orDie,
      Effect.annotateLogs({ jobId }),
      Effect.withSpan("JobDriver.run", { attributes: { jobId } })
    )
})
