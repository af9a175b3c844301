/**
 * Jobs' progress messages and their edits, kept by the runner process rather than by the
 * job's entity, so that a job waiting for its message's turn holds no entity: under a
 * burst, Telegram's 30 messages/s makes the last of 10,000 answers wait five minutes, and
 * an entity kept alive for each of them cost ~130 KB (BENCHMARKS.md).
 *
 * The message goes out beside the KIE submission, not before it: under load Telegram's 30
 * messages/s is the narrowest budget, and a job waiting for its turn there need not wait
 * to be submitted. It is the user's answer to the photo, so it goes ahead of videos to
 * users who have heard from us (src/telegram/outgoing-limits.ts), older photos first. The
 * outcome may still be ready first: a message not yet posted is then dropped and the
 * outcome takes its place in line (it answers the photo itself), and one being posted is
 * waited for, so that the video never comes before the message it answers.
 *
 * An edit that waits for its turn is dropped when the job has moved to its outcome by then
 * (asked of the row: the waker may have queued it on another runner), so that a late
 * "generating…" never overwrites the outcome's text.
 */
import { Clock, Duration, Effect, Fiber, LogLevel, Option, Schedule } from "effect"
import type { JobId } from "../domain/ids.js"
import { logFailure } from "../observability/error-summary.js"
import { JobRepo } from "../storage/job-repo.js"
import { type InlineKeyboard, type OutgoingPlace, TelegramGateway } from "../telegram/gateway.js"
import { progressEditInterval } from "./job-policy.js"

export interface ProgressTarget {
  readonly chatId: number
  /** The stored message id, when the row had one. */
  readonly storedMessageId: number | null
  /** When the job was admitted: the photo's place in line for an answer. */
  readonly askedAtMs: number
}

export interface Acknowledgement {
  /** Posts the progress message in the background unless it exists or is on its way. */
  readonly post: (target: ProgressTarget, text: string, keyboard: InlineKeyboard | undefined) => Effect.Effect<void>
  /**
   * Before the outcome is sent: drop a waiting edit, and drop or wait for a message not yet
   * posted. Returns the outcome's place in line: the answer's, when the user has not heard
   * from us about this photo.
   */
  readonly beforeOutcome: (target: ProgressTarget) => Effect.Effect<OutgoingPlace>
  /** Edits the message (when it exists); a forced edit is waited for, others go in the background. */
  readonly show: (
    target: ProgressTarget,
    text: string,
    options: { readonly force: boolean; readonly keyboard: InlineKeyboard | undefined }
  ) => Effect.Effect<void>
  readonly isPosted: (target: ProgressTarget) => Effect.Effect<boolean>
}

/** One job's message on this runner. */
interface Progress {
  turn: "waiting" | "posting" | "overtaken"
  posting: Fiber.RuntimeFiber<void> | undefined
  /** The message may go out while a step runs with a row read before it did. */
  postedId: number | undefined
  pendingEdit: Fiber.RuntimeFiber<void> | undefined
  lastText: string
  lastEditAtMs: number
  usedAtMs: number
}

/**
 * A job unheard of for this long is forgotten here: it finished, runs on another runner, or
 * waits long in the photo queue (whose wake-up then makes its run read the stored message id).
 */
const forgetAfter = Duration.minutes(15)

export class ProgressMessages extends Effect.Service<ProgressMessages>()("app/ProgressMessages", {
  scoped: Effect.gen(function*() {
    const gateway = yield* TelegramGateway
    const repo = yield* JobRepo
    const scope = yield* Effect.scope
    const jobs = new Map<JobId, Progress>()

    const progressOf = (jobId: JobId, now: number): Progress => {
      let progress = jobs.get(jobId)
      if (progress === undefined) {
        progress = {
          turn: "waiting",
          posting: undefined,
          postedId: undefined,
          pendingEdit: undefined,
          lastText: "",
          lastEditAtMs: Number.NEGATIVE_INFINITY,
          usedAtMs: now
        }
        jobs.set(jobId, progress)
      }
      progress.usedAtMs = now
      return progress
    }
    const touch = (jobId: JobId) => Effect.map(Clock.currentTimeMillis, (now) => progressOf(jobId, now))

    yield* Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const [jobId, progress] of jobs) {
        const busy = [progress.posting, progress.pendingEdit].some((fiber) => fiber !== undefined && fiber.unsafePoll() === null)
        if (!busy && now - progress.usedAtMs > Duration.toMillis(forgetAfter)) jobs.delete(jobId)
      }
    }).pipe(Effect.repeat(Schedule.spaced(Duration.minutes(1))), Effect.forkScoped)

    const stillBeforeOutcome = (jobId: JobId) =>
      repo.stateOf(jobId).pipe(
        Effect.map(Option.exists((state) => state === "queued" || state === "submitting" || state === "polling")),
        Effect.orElseSucceed(() => false)
      )

    const dropPendingEdit = (progress: Progress) =>
      Effect.suspend(() => {
        const waiting = progress.pendingEdit
        progress.pendingEdit = undefined
        return waiting === undefined ? Effect.void : Fiber.interrupt(waiting)
      })

    const of = (jobId: JobId): Acknowledgement => {
      const messageOf = (target: ProgressTarget) => target.storedMessageId ?? jobs.get(jobId)?.postedId

      const post: Acknowledgement["post"] = (target, text, keyboard) =>
        Effect.flatMap(touch(jobId), (progress) => {
          if (messageOf(target) !== undefined || progress.posting !== undefined) return Effect.void
          const stillWanted = Effect.sync(() => {
            if (progress.turn === "overtaken") return false
            progress.turn = "posting"
            return true
          })
          return Effect.forkIn(
            gateway.sendProgressMessage(target.chatId, text, { keyboard, stillWanted, askedAtMs: target.askedAtMs }).pipe(
              Effect.flatMap(Option.match({
                onNone: () => Effect.void,
                onSome: (messageId) =>
                  Effect.sync(() => {
                    progress.postedId = messageId
                  }).pipe(Effect.zipRight(repo.update(jobId, { progress_message_id: messageId })))
              })),
              // Without a progress message the job still runs; the outcome is sent anyway, and
              // the job's next run may post it again.
              Effect.catchAll((error) =>
                logFailure(LogLevel.Warning, "could not send the progress message", error).pipe(
                  Effect.zipRight(Effect.sync(() => {
                    progress.posting = undefined
                    progress.turn = "waiting"
                  }))
                )
              )
            ),
            scope
          ).pipe(Effect.map((fiber) => {
            progress.posting = fiber
          }))
        })

      const beforeOutcome: Acknowledgement["beforeOutcome"] = (target) =>
        Effect.gen(function*() {
          const progress = yield* touch(jobId)
          yield* dropPendingEdit(progress)
          if (progress.posting !== undefined) {
            if (progress.turn === "waiting") {
              progress.turn = "overtaken"
              yield* Fiber.interrupt(progress.posting)
            } else {
              yield* Fiber.join(progress.posting)
            }
          }
          return messageOf(target) === undefined
            ? { priority: "answer", askedAtMs: target.askedAtMs } satisfies OutgoingPlace
            : {} satisfies OutgoingPlace
        })

      const show: Acknowledgement["show"] = (target, text, options) =>
        Effect.gen(function*() {
          const messageId = messageOf(target)
          if (messageId === undefined) return
          const now = yield* Clock.currentTimeMillis
          const progress = progressOf(jobId, now)
          if (progress.lastText === text) return
          if (!options.force && now - progress.lastEditAtMs < Duration.toMillis(progressEditInterval)) return
          progress.lastText = text
          progress.lastEditAtMs = now
          yield* dropPendingEdit(progress)
          // An edit without a keyboard removes the one the message had (e.g. Cancel).
          const edit = gateway.editMessageText(target.chatId, messageId, text, {
            keyboard: options.keyboard,
            priority: options.force ? "normal" : "progress",
            ...(options.force ? {} : { stillWanted: stillBeforeOutcome(jobId) })
          }).pipe(
            Effect.catchAll((error) => logFailure(LogLevel.Debug, "progress edit skipped", error))
          )
          if (options.force) return yield* edit
          progress.pendingEdit = yield* Effect.forkIn(edit, scope)
        })

      const isPosted: Acknowledgement["isPosted"] = (target) => Effect.sync(() => messageOf(target) !== undefined)

      return { post, beforeOutcome, show, isPosted }
    }

    return { of } as const
  })
}) {}
