/**
 * The job's progress message and its edits, for as long as the job's entity is active.
 *
 * The message goes out beside the KIE submission, not before it: under load Telegram's 30
 * messages/s is the narrowest budget, and a job waiting for its turn there need not wait
 * to be submitted. Progress messages wait behind videos and refunds for that budget, so the
 * outcome may be ready first: a message not yet posted is then dropped (the outcome answers
 * the photo itself), and one being posted is waited for, so that the video never comes
 * before the message it answers.
 */
import { Effect, Fiber, LogLevel, Option, Ref } from "effect"
import type { JobId } from "../domain/ids.js"
import { logFailure } from "../observability/error-summary.js"
import type { JobRepo } from "../storage/job-repo.js"
import type { InlineKeyboard, TelegramGatewayService } from "../telegram/gateway.js"
import { makeProgress } from "./job-progress.js"

export interface ProgressTarget {
  readonly chatId: number
  /** The stored message id, when the row had one. */
  readonly storedMessageId: number | null
}

export const makeAcknowledgement = (jobId: JobId, gateway: TelegramGatewayService, repo: JobRepo) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const progress = yield* makeProgress(gateway)
    const turn = yield* Ref.make<"waiting" | "posting" | "overtaken">("waiting")
    const stillWanted = Ref.modify(turn, (now) => now === "overtaken" ? [false, now] as const : [true, "posting"] as const)
    const overtake = Ref.modify(turn, (now) => now === "waiting" ? [true, "overtaken"] as const : [false, now] as const)
    let posting: Fiber.RuntimeFiber<void> | undefined
    // The message may go out while a step runs with a row read before it did.
    let postedId: number | undefined

    const messageOf = (target: ProgressTarget) => target.storedMessageId ?? postedId

    /** Posts the progress message in the background unless it exists or is on its way. */
    const post = (target: ProgressTarget, text: string, keyboard: InlineKeyboard | undefined) =>
      Effect.suspend(() => {
        if (messageOf(target) !== undefined || posting !== undefined) return Effect.void
        return Effect.forkIn(
          gateway.sendProgressMessage(target.chatId, text, { keyboard, stillWanted }).pipe(
            Effect.flatMap(Option.match({
              onNone: () => Effect.void,
              onSome: (messageId) =>
                Effect.sync(() => {
                  postedId = messageId
                }).pipe(Effect.zipRight(repo.update(jobId, { progress_message_id: messageId })))
            })),
            // Without a progress message the job still runs; the outcome is sent anyway.
            Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not send the progress message", error))
          ),
          scope
        ).pipe(Effect.map((fiber) => {
          posting = fiber
        }))
      })

    /** Before the outcome is sent: drop a stale edit, and drop or wait for a message not yet posted. */
    const beforeOutcome = Effect.gen(function*() {
      yield* progress.dropPending
      if (posting === undefined) return
      if (yield* overtake) return yield* Fiber.interrupt(posting)
      yield* Fiber.join(posting)
    })

    const show = (target: ProgressTarget, text: string, options: { readonly force: boolean; readonly keyboard: InlineKeyboard | undefined }) =>
      Effect.suspend(() => {
        const messageId = messageOf(target)
        return messageId === undefined ? Effect.void : progress.show(target.chatId, messageId, text, options)
      })

    /**
     * Until the message and a pending edit are out (or given up): the entity stays active
     * meanwhile, so that its reaper does not cut them off, and the outcome can still drop them.
     */
    const posted = Effect.suspend(() => posting === undefined ? Effect.void : Effect.asVoid(Fiber.await(posting))).pipe(
      Effect.zipRight(progress.pendingDone)
    )

    const isPosted = (target: ProgressTarget) => Effect.sync(() => messageOf(target) !== undefined)

    return { post, beforeOutcome, show, posted, isPosted } as const
  })

export type Acknowledgement = Effect.Effect.Success<ReturnType<typeof makeAcknowledgement>>
