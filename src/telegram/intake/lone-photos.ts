/**
 * Lone photos admitted at intake, without their user's entity (docs/architecture.md,
 * "Admission"). Under a burst most updates are one photo from a user who sends nothing
 * else; building and reaping that user's entity was most of a photo's CPU on one core
 * (BENCHMARKS.md). So the poller admits such a photo itself: each one's admission
 * (src/storage/admission.ts) writes its inbox row, handled, in the same statement; the
 * batch's other rows are stored after, and the new jobs start (src/jobs/job-starts.ts).
 * Every other update, and every photo this path declines, is stored unhandled and goes to
 * the user's entity as before, which answers it.
 *
 * A photo is taken here only when its handling by the bot could only be an admission:
 * a private chat, no command in the caption, no admin (support answers), the user's only
 * update in the batch and no update of theirs still waiting, no support request open, the
 * profile as stored (a change is the entity's to save), a prompt the model accepts and a
 * balance that covers the price. The flood limit counts it as the bot would, once: a photo
 * counted here and declined is not counted again by an entity of this process.
 *
 * Why the order of a user's updates still holds: the poller hands over one batch at a time,
 * and the photo's row is written by the statement that admits it, handled, so no entity can
 * read it before its admission, and the user's next update is stored only after it. That is
 * also why only the poller does this: webhook deliveries arrive side by side.
 *
 * The user's entity no longer holds the only copy of the balance that is written: it reads
 * its user again at each wake (src/users/user-state.ts); every write moves the balance by a
 * delta and returns what the database holds.
 */
import { Duration, Effect, FiberSet, Option } from "effect"
import type { PhotoSize } from "grammy/types"
import { AppConfig } from "../../config/index.js"
import { Balance, splitCost } from "../../domain/balance.js"
import { jobIdFor, UserId } from "../../domain/ids.js"
import type { TelegramUpdate } from "../../domain/telegram-update.js"
import { storableJson } from "../../domain/text.js"
import { profileChanged, type UserProfile } from "../../domain/user-profile.js"
import { languageOf } from "../../i18n/index.js"
import { uploadReuseWindow } from "../../jobs/job-policy.js"
import { JobStarts } from "../../jobs/job-starts.js"
import { preparePrompt } from "../../kie/models.js"
import { recordLonePhotosAdmitted } from "../../observability/metrics.js"
import { RateLimits } from "../../rate-limits/rate-limits.js"
import { Admission, type AdmissionInput } from "../../storage/admission.js"
import { BatchAdmission } from "../../storage/batch-admission.js"
import { type InboxRow, TelegramInbox } from "../../storage/telegram-inbox.js"
import { UserSnapshots } from "../../storage/user-snapshot.js"
import { CountedUpdates } from "../counted-updates.js"
import { floodRequest } from "../features/limits.js"
import { largest, photoRequestKey } from "../features/generate.js"
import { settingsOf } from "../features/settings.js"

/** What the update alone says about a photo this path may admit. */
export interface LonePhoto {
  readonly updateId: number
  readonly userId: number
  readonly chatId: number
  readonly messageId: number
  readonly fileId: string
  readonly fileSize: number | undefined
  readonly caption: string | undefined
  readonly profile: UserProfile
}

interface PhotoMessage {
  readonly message_id: number
  readonly chat: { readonly id: number; readonly type: string }
  readonly from?: {
    readonly id: number
    readonly is_bot: boolean
    readonly first_name: string
    readonly username?: string
    readonly language_code?: string
  }
  readonly photo?: ReadonlyArray<PhotoSize>
  readonly caption?: string
  readonly caption_entities?: ReadonlyArray<{ readonly type: string }>
}

/**
 * The batch's photos that nothing but the update itself rules out: a private chat's
 * photo, from a user (not an admin) with no other update in the batch, whose caption is no
 * command.
 */
export const lonePhotosOf = (
  updates: ReadonlyArray<TelegramUpdate>,
  rows: ReadonlyArray<InboxRow>,
  adminIds: ReadonlyArray<number>
): ReadonlyArray<LonePhoto> => {
  const updatesOfUser = new Map<number, number>()
  for (const row of rows) updatesOfUser.set(row.userId, (updatesOfUser.get(row.userId) ?? 0) + 1)
  return updates.flatMap((received): Array<LonePhoto> => {
    // Cleaned as the bot cleans what its handlers read (src/telegram/bot.ts).
    const update = storableJson(received) as TelegramUpdate
    const message = (update as { message?: PhotoMessage }).message
    const from = message?.from
    const photo = message?.photo === undefined ? undefined : largest(message.photo)
    if (message === undefined || from === undefined || photo === undefined || from.is_bot) return []
    if (message.chat.type !== "private" || message.chat.id !== from.id) return []
    if (updatesOfUser.get(from.id) !== 1 || adminIds.includes(from.id)) return []
    const caption = message.caption
    if (caption?.trimStart().startsWith("/") === true) return []
    if (message.caption_entities?.some((entity) => entity.type === "bot_command") === true) return []
    return [{
      updateId: update.update_id,
      userId: from.id,
      chatId: message.chat.id,
      messageId: message.message_id,
      fileId: photo.file_id,
      fileSize: photo.file_size,
      caption,
      profile: {
        firstName: from.first_name,
        ...(from.username === undefined ? {} : { username: from.username }),
        ...(from.language_code === undefined ? {} : { languageCode: from.language_code })
      }
    }]
  })
}

/**
 * Admits a batch's lone photos and stores its other inbox rows; returns the update ids
 * admitted (their rows are stored handled).
 */
export const makeLonePhotoAdmission = Effect.gen(function*() {
  const config = yield* AppConfig
  const inbox = yield* TelegramInbox
  const snapshots = yield* UserSnapshots
  const admission = yield* Admission
  const batchAdmission = yield* BatchAdmission
  const limits = yield* RateLimits
  const starts = yield* JobStarts
  const counted = yield* CountedUpdates
  const starting = yield* FiberSet.make()

  /** The admission of `photo`, if the user's state allows one; none leaves it to the entity. */
  const inputOf = (
    photo: LonePhoto,
    stored: Effect.Effect.Success<ReturnType<typeof snapshots.ofMany>>,
    nowMs: number
  ): Option.Option<AdmissionInput> => {
    const snapshot = stored.get(photo.userId)
    if (snapshot !== undefined) {
      if (!snapshot.known || Option.isSome(snapshot.supportOpenedAtMs)) return Option.none()
      if (profileChanged(snapshot.profile, photo.profile)) return Option.none()
    }
    const settings = settingsOf(config.kie.model, snapshot?.settings ?? Option.none())
    if ((photo.caption ?? "").trim() === "" && config.bot.barePhoto === "presets") return Option.none()
    const prompt = preparePrompt(settings.model, photo.caption)
    if (prompt._tag === "Left") return Option.none()
    const registration = snapshot?.freeGranted === true
      ? Option.none()
      : Option.some({ profile: photo.profile, freeTokens: config.freeTokens })
    const held = snapshot?.balance ?? new Balance({ credits: 0, freeTokens: 0 })
    const balance = new Balance({
      credits: held.credits,
      freeTokens: held.freeTokens + Option.match(registration, { onNone: () => 0, onSome: (r) => r.freeTokens })
    })
    return Option.map(splitCost(balance, settings.cost), (split): AdmissionInput => {
      const requestKey = photoRequestKey(photo.chatId, photo.messageId)
      return {
        job: {
          id: jobIdFor(UserId.make(photo.userId), requestKey),
          userId: UserId.make(photo.userId),
          chatId: photo.chatId,
          requestKey,
          model: settings.model.slug,
          prompt: prompt.right,
          cost: settings.cost,
          durationSeconds: settings.durationSeconds,
          photoFileId: photo.fileId,
          language: languageOf(photo.profile.languageCode),
          createdAtMs: nowMs,
          uploadsReusableSinceMs: nowMs - Duration.toMillis(uploadReuseWindow)
        },
        split,
        expected: new Balance({
          credits: balance.credits - split.fromCredits,
          freeTokens: balance.freeTokens - split.fromFreeTokens
        }),
        maxInFlight: config.bot.maxJobsInFlight,
        registration,
        updateId: photo.updateId,
        nowMs
      }
    })
  }

  // The flood limit as the bot applies it (src/telegram/features/limits.ts), beside the read
  // of the users: a photo over it goes to the entity, which tells the user. One let through
  // is remembered, so that the entity does not count it again if this path declines it.
  const withinFloodLimit = (photo: LonePhoto) =>
    limits.consume(floodRequest(photo.userId, config.bot.floodLimitPerMinute)).pipe(
      Effect.as(true),
      Effect.tap(() => Effect.sync(() => counted.remember(photo.updateId))),
      Effect.orElseSucceed(() => false)
    )

  // The batch's photos are admitted in one statement (src/storage/batch-admission.ts):
  // node-pg runs one statement at a time per connection, and each waits for its turn of a
  // busy event loop, so a transaction of one statement per photo took 1.5 s for 100 (65
  // photos/s), and 100 statements side by side on the pool 330 ms (306 photos/s). Should that statement fail (a
  // balance that a payment's refund moved meanwhile, say, and a CHECK refused), each photo is
  // tried on its own, side by side, and one that fails again is left to its entity.
  const admitEach = (inputs: ReadonlyArray<AdmissionInput>) =>
    Effect.forEach(inputs, (input) =>
      admission.admit(input).pipe(
        Effect.map((outcome) => outcome._tag === "Admitted" ? [outcome.job] : []),
        Effect.catchAllCause((cause) =>
          Effect.as(Effect.logWarning("a lone photo could not be admitted at intake; its user's entity handles it", cause), [])
        )
      ), { concurrency: "unbounded" }).pipe(Effect.map((admitted) => admitted.flat()))

  return (updates: ReadonlyArray<TelegramUpdate>, rows: ReadonlyArray<InboxRow>, nowMs: number) =>
    Effect.gen(function*() {
      const photos = lonePhotosOf(updates, rows, config.adminIds)
      if (photos.length === 0) {
        yield* inbox.store(rows, nowMs)
        return new Set<number>()
      }
      const userIds = photos.map((photo) => photo.userId)
      const [stored, withinLimit] = yield* Effect.all([
        snapshots.ofMany(userIds),
        Effect.filter(photos, withinFloodLimit, { concurrency: "unbounded" })
      ], { concurrency: 2 })
      const rowOf = new Map(rows.map((row) => [row.updateId, row]))
      const allowed = withinLimit.flatMap((photo) =>
        stored.get(photo.userId)?.waiting === true ? [] : Option.toArray(inputOf(photo, stored, nowMs)).map((input) => ({
          ...input,
          unstoredUpdate: rowOf.get(photo.updateId)!
        }))
      )
      const admitted = yield* batchAdmission.admitMany(allowed).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logDebug("a batch of lone photos could not be admitted in one statement; one by one", cause).pipe(
            Effect.zipRight(admitEach(allowed))
          )
        )
      )
      const inputOfJob = new Map(allowed.map((input) => [input.job.id as string, input]))
      const admittedUpdates = new Set(admitted.map((job) => inputOfJob.get(job.id)!.updateId!))
      // The rest only now: a lone photo's row must not be readable before its admission, and
      // every row is stored before the batch is confirmed to Telegram (the next getUpdates).
      yield* inbox.store(rows.filter((row) => !admittedUpdates.has(row.updateId)), nowMs)
      if (admitted.length === 0) return new Set<number>()
      yield* recordLonePhotosAdmitted(admitted.length)
      // As the entity's admission does (src/users/user-admission.ts): a start lost here costs
      // the job its first due time, after which the waker runs it. In the background, and at
      // the usual priority whatever the poller's (./poller.ts): a start may take a while (a
      // local job's first run is woken when a transfer permit is free, its entity built), and
      // the next batch must not wait for it.
      yield* FiberSet.run(starting, Effect.forEach(admitted, (job) => {
        const { split, updateId } = inputOfJob.get(job.id)!
        return Effect.logInfo("job reserved at intake").pipe(
          Effect.annotateLogs({ cost: job.cost, fromFreeTokens: split.fromFreeTokens, fromCredits: split.fromCredits, updateId }),
          Effect.zipRight(starts.start(job)),
          Effect.catchAllCause((cause) => Effect.logWarning("could not wake the new job; the waker runs it when it is due", cause)),
          Effect.annotateLogs({ jobId: job.id, userId: Number(job.user_id) })
        )
      }, { concurrency: "unbounded", discard: true }).pipe(Effect.withSchedulingPriority(0)))
      return admittedUpdates
    })
})
