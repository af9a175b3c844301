/**
 * A user's admissions, inside their entity: a photo becomes a job in one commit
 * (src/storage/admission.ts) from the entity's copy of the balance, then the new job's
 * start (src/jobs/job-starts.ts).
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Duration, Effect, Option } from "effect"
import { Balance, splitCost } from "../domain/balance.js"
import { jobIdFor, type UserId } from "../domain/ids.js"
import { InsufficientCredits } from "../errors/index.js"
import { uploadReuseWindow } from "../jobs/job-policy.js"
import { JobStarts } from "../jobs/job-starts.js"
import { recordJobStarted } from "../observability/metrics.js"
import { type AdmitOptions, JobStarted, type StartJobInput } from "../protocols/user-protocol.js"
import { Admission } from "../storage/admission.js"
import { storedNow } from "../storage/job-repo.js"
import type { UserState } from "./user-state.js"

export const makeAdmission = (
  { loaded, markedUpdates, userId }: {
    readonly userId: UserId
    readonly loaded: Effect.Effect<UserState, SqlError>
    /** Updates marked handled by their admission's commit, so not marked again. */
    readonly markedUpdates: Set<number>
  }
) =>
  Effect.gen(function*() {
    const admission = yield* Admission
    const starts = yield* JobStarts

    const admit = Effect.fnUntraced(function*(payload: StartJobInput, options: AdmitOptions | undefined) {
      const s = yield* loaded
      const jobId = jobIdFor(userId, payload.requestKey)
      const createdAtMs = yield* storedNow
      const job = {
        id: jobId,
        userId,
        chatId: payload.chatId,
        requestKey: payload.requestKey,
        model: payload.model,
        prompt: payload.prompt,
        cost: payload.cost,
        durationSeconds: payload.durationSeconds,
        photoFileId: payload.photo.fileId,
        language: payload.languageCode,
        createdAtMs,
        uploadsReusableSinceMs: createdAtMs - Duration.toMillis(uploadReuseWindow)
      }
      const split = splitCost(s.balance, payload.cost)
      if (Option.isNone(split)) {
        const known = yield* admission.knownRequest(job)
        if (Option.isNone(known)) {
          const available = s.balance.total
          return yield* new InsufficientCredits({ required: payload.cost, available, shortfall: payload.cost - available })
        }
        return Option.some(new JobStarted({ jobId, balance: s.balance, split: known.value }))
      } else {
        const { fromCredits, fromFreeTokens } = split.value
        const outcome = yield* admission.admit({
          job,
          split: split.value,
          expected: new Balance({ credits: s.balance.credits - fromCredits, freeTokens: s.balance.freeTokens - fromFreeTokens }),
          maxInFlight: options?.maxInFlight,
          registration: s.pending,
          updateId: options?.updateId,
          nowMs: yield* Clock.currentTimeMillis.pipe(Effect.map(Math.floor))
        })
        // UpdateStored only answers the poller's admissions, which name an unstored update.
        if (outcome._tag === "NoRoom" || outcome._tag === "UpdateStored") return Option.none<JobStarted>()
        // A known request's job was woken when it was admitted, or is due by now.
        if (outcome._tag === "Known") return Option.some(new JobStarted({ jobId, balance: s.balance, split: outcome.split }))
        s.balance = outcome.balance
        if (Option.isSome(s.pending)) {
          s.pending = Option.none()
          s.freeGranted = true
        }
        if (options !== undefined) markedUpdates.add(options.updateId)
        yield* recordJobStarted
        yield* Effect.logInfo("job reserved").pipe(
          Effect.annotateLogs({ cost: payload.cost, fromFreeTokens, fromCredits, requestKey: payload.requestKey })
        )
        // Volatile and after the commit: a persisted start would cost a saved message and its
        // reply (two commits). A start lost here (a crash, a full mailbox) costs the job its
        // first due time, a few seconds (src/storage/job-repo.ts), after which the waker runs it.
        yield* starts.start(outcome.job).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning("could not wake the new job; the waker runs it when it is due", cause))
        )
        return Option.some(new JobStarted({ jobId, balance: outcome.balance, split: split.value }))
      }
    }, Effect.catchTag("SqlError", Effect.die), (effect, payload) =>
      // Also covers the bot handler that calls this directly: every line of the start carries both ids.
      Effect.annotateLogs(effect, { jobId: jobIdFor(userId, payload.requestKey), userId }))

    const startJob = (payload: StartJobInput) =>
      Effect.flatMap(admit(payload, undefined), (started) =>
        Option.isSome(started) ? Effect.succeed(started.value) : Effect.dieMessage("refused for room without a room check"))

    return { admit, startJob } as const
  })
