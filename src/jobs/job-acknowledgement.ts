/**
 * Jobs' progress messages and their edits, kept by the runner process rather than by the
 * job's entity: under a burst Telegram's 30 messages/s makes the last of 10,000 answers wait
 * minutes, and an entity alive for each cost ~130 KB. Nor by a fiber: a message waiting for
 * its turn is an entry in a queue (./answer-queue.ts: oldest photo first, one per chat at a
 * time), and a few posters carry the first ones into Telegram's line
 * (src/telegram/outgoing-limits.ts); a parked fiber each was a burst's largest live item
 * (BENCHMARKS.md). Edits have posters of their own: they come after every answer in the
 * line, and posters held there would leave the answers nobody to carry them.
 *
 * The message is the user's answer to the photo and goes out beside the KIE submission,
 * ahead of videos to users who have heard from us, older photos first. An outcome ready
 * first drops a message not yet posted and takes its place (it answers the photo itself),
 * and waits for one being posted: the video never comes before the message it answers. An
 * edit whose turn comes after the job's outcome is dropped (asked of the row: the waker may
 * have queued it on another runner); a newer text replaces an edit not yet in line.
 */
import { Clock, Duration, Effect, Fiber, LogLevel, Metric, Option, Schedule } from "effect"
import type { JobId } from "../domain/ids.js"
import { logFailure } from "../observability/error-summary.js"
import { JobRepo } from "../storage/job-repo.js"
import { type InlineKeyboard, type OutgoingPlace, TelegramGateway } from "../telegram/gateway.js"
import { makeAnswerQueue } from "./answer-queue.js"
import { progressEditInterval } from "./job-policy.js"

export interface ProgressTarget {
  readonly chatId: number
  /** The stored message id, when the row had one. */
  readonly storedMessageId: number | null
  /** When the job was admitted: the photo's place in line for an answer. */
  readonly askedAtMs: number
}

export interface Acknowledgement {
  /** Queues the progress message unless it exists or is on its way. */
  readonly post: (target: ProgressTarget, text: string, keyboard: InlineKeyboard | undefined) => Effect.Effect<void>
  /**
   * Before the outcome: drops a waiting edit, drops or waits for a message not yet posted.
   * Returns the outcome's place in line: the answer's, when the user has not heard from us.
   */
  readonly beforeOutcome: (target: ProgressTarget) => Effect.Effect<OutgoingPlace>
  /** Edits the message (if any); a forced edit is waited for, others are queued. */
  readonly show: (target: ProgressTarget, text: string, options: { readonly force: boolean; readonly keyboard: InlineKeyboard | undefined }) => Effect.Effect<void>
  readonly isPosted: (target: ProgressTarget) => Effect.Effect<boolean>
  /** First answers waiting here to photos that came before `askedAtMs`: what a video placed there waits behind. */
  readonly answersBefore: (askedAtMs: number) => Effect.Effect<number>
}

/** Progress messages carried into Telegram's line at once (each waits there for a slot, then posts); edits apart. */
export const progressPosters = 32
export const progressEditors = 4

/** Answers owed to photos, waiting for their turn; a count that stays high asks for a higher Telegram budget (or less load). */
export const progressMessagesWaiting = Metric.gauge("telegram_progress_messages_waiting", {
  description: "progress messages (a photo's first answer) waiting on this runner for Telegram's budget"
})

const isWaiting = (turn: Progress["turn"]) => turn === "queued" || turn === "waiting"

interface Message {
  readonly chatId: number
  readonly text: string
  readonly keyboard: InlineKeyboard | undefined
}

/** One job's message on this runner. */
interface Progress {
  readonly jobId: JobId
  /**
   * idle: nothing on its way; queued: waits in the heap; waiting: a poster holds it in
   * Telegram's line; posting: its turn came; overtaken: the outcome took its place.
   */
  turn: "idle" | "queued" | "waiting" | "posting" | "overtaken"
  post: Message | undefined
  /** When the photo came: the post's place in line. */
  askedAtMs: number
  posting: Fiber.RuntimeFiber<void> | undefined
  /** The message may go out while a step runs with a row read before it did. */
  postedId: number | undefined
  /** The edit waiting for an editor; a newer text replaces it. */
  edit: (Message & { readonly messageId: number }) | undefined
  editQueued: boolean
  editing: Fiber.RuntimeFiber<void> | undefined
  lastText: string
  lastEditAtMs: number
  usedAtMs: number
}

/** A job unheard of this long is forgotten: it finished, or runs elsewhere (a later run reads the stored message id). */
const forgetAfter = Duration.minutes(15)


const isRunning = (fiber: Fiber.RuntimeFiber<void> | undefined) => fiber !== undefined && fiber.unsafePoll() === null

export class ProgressMessages extends Effect.Service<ProgressMessages>()("app/ProgressMessages", {
  scoped: Effect.gen(function*() {
    const gateway = yield* TelegramGateway
    const repo = yield* JobRepo
    const jobs = new Map<JobId, Progress>()
    let waitingPosts = 0
    /** Every change of a turn goes through here, which keeps the count of waiting answers. */
    const setTurn = (progress: Progress, turn: Progress["turn"]) => {
      waitingPosts += Number(isWaiting(turn)) - Number(isWaiting(progress.turn))
      progress.turn = turn
      return Metric.set(progressMessagesWaiting, waitingPosts)
    }
    // Posts in order of their photos, edits in order of their texts, one per chat at a time.
    const posts = yield* makeAnswerQueue<Progress>((progress) => progress.turn === "queued")
    // Every edit entry is taken, stale or not: taking it is what clears `editQueued`.
    const edits = yield* makeAnswerQueue<Progress>(() => true)

    const progressOf = (jobId: JobId, now: number): Progress => {
      let progress = jobs.get(jobId)
      if (progress === undefined) {
        progress = {
          jobId,
          turn: "idle",
          post: undefined,
          askedAtMs: 0,
          posting: undefined,
          postedId: undefined,
          edit: undefined,
          editQueued: false,
          editing: undefined,
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

    const isBusy = (progress: Progress) =>
      isWaiting(progress.turn) || progress.editQueued || isRunning(progress.posting) || isRunning(progress.editing)

    yield* Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const [jobId, progress] of jobs) {
        if (!isBusy(progress) && now - progress.usedAtMs > Duration.toMillis(forgetAfter)) jobs.delete(jobId)
      }
    }).pipe(Effect.repeat(Schedule.spaced(Duration.minutes(1))), Effect.forkScoped)

    const stillBeforeOutcome = (jobId: JobId) =>
      repo.stateOf(jobId).pipe(
        Effect.map(Option.exists((state) => state === "queued" || state === "submitting" || state === "polling")),
        Effect.orElseSucceed(() => false)
      )

    const sendPost = (progress: Progress, message: Message) => {
      const stillWanted = Effect.suspend(() =>
        progress.turn === "overtaken" ? Effect.succeed(false) : Effect.as(setTurn(progress, "posting"), true)
      )
      // Recorded as Telegram answers, before a shutdown can interrupt: the next run posts no second one.
      const onPosted = (messageId: number) =>
        Effect.sync(() => (progress.postedId = messageId)).pipe(
          Effect.zipRight(repo.update(progress.jobId, { progress_message_id: messageId })),
          Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not store the progress message's id", error))
        )
      return gateway.sendProgressMessage(message.chatId, message.text, {
        keyboard: message.keyboard,
        stillWanted,
        askedAtMs: progress.askedAtMs,
        onPosted
      }).pipe(
        // Without a progress message the job still runs; the outcome is sent anyway, and
        // the job's next run may post it again (after a defect in line too).
        Effect.catchAll((error) =>
          logFailure(LogLevel.Warning, "could not send the progress message", error).pipe(
            Effect.zipRight(Effect.suspend(() => progress.turn === "overtaken" ? Effect.void : setTurn(progress, "idle")))
          )
        ),
        Effect.ensuring(Effect.suspend(() => progress.turn === "waiting" ? setTurn(progress, "idle") : Effect.void))
      )
    }

    const sendEdit = (progress: Progress, edit: Message & { readonly messageId: number }) =>
      gateway.editMessageText(edit.chatId, edit.messageId, edit.text, {
        keyboard: edit.keyboard,
        priority: "progress",
        stillWanted: stillBeforeOutcome(progress.jobId)
      }).pipe(Effect.catchAll((error) => logFailure(LogLevel.Debug, "progress edit skipped", error)))

    // Each takes the next entry still wanted and sends it in a fiber of its own, noted before
    // the send can start: an outcome must find the fiber to wait for or to stop. Once it has
    // ended it is let go: an ended fiber keeps its context and FiberRefs, and the job is
    // remembered for minutes (a heap snapshot of a 20,000-photo burst found 4,400 of them).
    const poster = Effect.gen(function*() {
      const { chatId, value: progress } = yield* posts.take
      const message = progress.post
      if (message === undefined || progress.turn !== "queued") return posts.done(chatId)
      yield* setTurn(progress, "waiting")
      progress.post = undefined
      const fiber = yield* Effect.fork(Effect.withFiberRuntime<void>((fiber) => {
        progress.posting = fiber
        return sendPost(progress, message)
      }))
      yield* Fiber.await(fiber).pipe(Effect.ensuring(Effect.sync(() => {
        if (progress.posting === fiber) progress.posting = undefined
        posts.done(chatId)
      })))
    })
    const editor = Effect.gen(function*() {
      const { chatId, value: progress } = yield* edits.take
      progress.editQueued = false
      const edit = progress.edit
      if (edit === undefined) return edits.done(chatId)
      progress.edit = undefined
      // Noted before the send can start: a newer text or the outcome must find it to stop it.
      const fiber = yield* Effect.fork(sendEdit(progress, edit))
      progress.editing = fiber
      yield* Fiber.await(fiber).pipe(Effect.ensuring(Effect.sync(() => {
        if (progress.editing === fiber) progress.editing = undefined
        edits.done(chatId)
      })))
    })
    for (let i = 0; i < progressPosters; i++) yield* Effect.forkScoped(Effect.forever(poster))
    for (let i = 0; i < progressEditors; i++) yield* Effect.forkScoped(Effect.forever(editor))

    const dropPendingEdit = (progress: Progress) =>
      Effect.suspend(() => {
        progress.edit = undefined
        const running = progress.editing
        progress.editing = undefined
        return running === undefined ? Effect.void : Fiber.interrupt(running)
      })

    const answersBefore = (askedAtMs: number) =>
      Effect.sync(() => {
        let answers = 0
        for (const progress of jobs.values()) if (isWaiting(progress.turn) && progress.askedAtMs < askedAtMs) answers++
        return answers
      })

    const of = (jobId: JobId): Acknowledgement => {
      const messageOf = (target: ProgressTarget) => target.storedMessageId ?? jobs.get(jobId)?.postedId

      const post: Acknowledgement["post"] = (target, text, keyboard) =>
        Effect.flatMap(touch(jobId), (progress) => {
          if (messageOf(target) !== undefined || progress.turn !== "idle") return Effect.void
          const queued = setTurn(progress, "queued")
          progress.post = { chatId: target.chatId, text, keyboard }
          progress.askedAtMs = target.askedAtMs
          posts.push(target.chatId, target.askedAtMs, progress)
          return queued
        })

      const beforeOutcome: Acknowledgement["beforeOutcome"] = (target) =>
        Effect.gen(function*() {
          const progress = yield* touch(jobId)
          yield* dropPendingEdit(progress)
          if (progress.turn === "queued" || progress.turn === "waiting") {
            // Queued: its poster skips it. Waiting in line: its fiber is stopped there.
            yield* setTurn(progress, "overtaken")
            progress.post = undefined
            if (progress.posting !== undefined) yield* Fiber.interrupt(progress.posting)
          } else if (progress.turn === "posting" && progress.posting !== undefined) {
            yield* Fiber.await(progress.posting)
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
          if (options.force) {
            yield* dropPendingEdit(progress)
            // An edit without a keyboard removes the one the message had (e.g. Cancel).
            return yield* gateway.editMessageText(target.chatId, messageId, text, { keyboard: options.keyboard, priority: "normal" })
              .pipe(Effect.catchAll((error) => logFailure(LogLevel.Debug, "progress edit skipped", error)))
          }
          // A waiting edit takes the newer text in its place; one already in line is stopped.
          if (progress.editing !== undefined) yield* Fiber.interrupt(progress.editing)
          progress.editing = undefined
          progress.edit = { chatId: target.chatId, messageId, text, keyboard: options.keyboard }
          if (progress.editQueued) return
          progress.editQueued = true
          edits.push(target.chatId, 0, progress)
        })

      const isPosted: Acknowledgement["isPosted"] = (target) => Effect.sync(() => messageOf(target) !== undefined)

      return { post, beforeOutcome, show, isPosted, answersBefore }
    }

    return { of } as const
  })
}) {}
