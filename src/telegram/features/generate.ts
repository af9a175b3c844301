/**
 * The core journey: a photo (or an image sent as a file) with its caption as the prompt
 * starts a job; the job entity answers with the progress message. The buttons under a
 * job's messages: Cancel (while the job has not reached KIE) and Generate again / Try
 * again (a new job with the same photo and prompt). Handlers start jobs and return; they
 * never wait for a generation.
 */
import { Cause, Clock, Effect, Either, Option } from "effect"
import { Composer } from "grammy"
import type { PhotoSize } from "grammy/types"
import { classifyFailure } from "../../errors/failure-class.js"
import { jobIdFor } from "../../domain/ids.js"
import type { JobId } from "../../domain/ids.js"
import { creditsFor, findModel, preparePrompt, type VideoModel } from "../../kie/models.js"
import { parseCallbackData } from "../callback-data.js"
import { answer, type BotContext, type BotEnv, forJob, handler, reply } from "../context.js"
import { replyInsufficient } from "./payments.js"
import { PresetOffer } from "../../storage/preset-offers-repo.js"
import { presetKeyboard } from "../keyboards.js"
import { currentSettings, type EffectiveSettings } from "./settings.js"

/** Two presses on one job's button within this window start one job. */
export const doubleTapWindowMs = 10_000

/** The largest size Telegram offers of a photo. */
export const largest = (sizes: ReadonlyArray<PhotoSize>): PhotoSize | undefined =>
  sizes.reduce<PhotoSize | undefined>(
    (best, size) => best === undefined || size.width * size.height > best.width * best.height ? size : best,
    undefined
  )

export interface NewJob {
  readonly requestKey: string
  readonly fileId: string
  readonly fileSize: number | undefined
  readonly prompt: string
  readonly model: VideoModel
  readonly durationSeconds: number
  readonly cost: number
}

/**
 * Starts the job, the room check included, in one commit (src/storage/admission.ts); the
 * job entity sends the progress message. A user short of credits is answered here; "no-room"
 * (`maxJobsInFlight` unfinished jobs; a request already started always has room) is the
 * caller's to answer, as a reply or a button's alert.
 */
export const startNewJob = (env: BotEnv, ctx: BotContext, job: NewJob) =>
  ctx.user.ops.admit({
    requestKey: job.requestKey,
    chatId: ctx.chat?.id ?? ctx.user.ops.userId,
    photo: job.fileSize === undefined ? { fileId: job.fileId } : { fileId: job.fileId, fileSize: job.fileSize },
    prompt: job.prompt,
    model: job.model.slug,
    durationSeconds: job.durationSeconds,
    cost: job.cost,
    languageCode: ctx.lang
  }, { maxInFlight: env.config.bot.maxJobsInFlight, updateId: ctx.update.update_id }).pipe(
    Effect.map((started) => Option.isSome(started) ? "started" as const : "no-room" as const),
    Effect.catchTag("InsufficientCredits", () =>
      Effect.flatMap(ctx.user.ops.balance, (balance) => replyInsufficient(env, ctx, job.cost, balance)).pipe(
        Effect.as("insufficient" as const)
      )),
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logWarning(`the job's request failed (${classifyFailure(cause)})`)
    ),
    Effect.annotateLogs({ jobId: jobIdFor(ctx.user.ops.userId, job.requestKey) })
  )

/** The request key of a job started by a photo: the same for its caption and a preset tap. */
export const photoRequestKey = (chatId: number, messageId: number) => `msg:${chatId}:${messageId}`

export const generateFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  const { maxJobsInFlight } = env.config.bot
  const start = (ctx: BotContext, job: NewJob) => startNewJob(env, ctx, job)

  /** A photo without a caption: the preset menu, priced with the user's settings now (./presets.ts). */
  const offerPresets = (ctx: BotContext, fileId: string, fileSize: number | undefined, settings: EffectiveSettings) =>
    Effect.gen(function*() {
      const message = ctx.message!
      yield* env.presetOffers.save(
        new PresetOffer({
          chatId: message.chat.id,
          messageId: message.message_id,
          userId: ctx.user.ops.userId,
          fileId,
          fileSize,
          model: settings.model.slug,
          durationSeconds: settings.durationSeconds,
          cost: settings.cost
        })
      )
      yield* reply(env, ctx, ctx.texts.presetMenu(settings.cost), presetKeyboard(ctx.texts, message.message_id, settings.cost))
    })

  const fromImage = (ctx: BotContext, fileId: string, fileSize: number | undefined) =>
    Effect.gen(function*() {
      const message = ctx.message!
      const settings = yield* currentSettings(env, ctx)
      if ((message.caption ?? "").trim() === "" && env.config.bot.barePhoto === "presets") {
        return yield* offerPresets(ctx, fileId, fileSize, settings)
      }
      const prompt = preparePrompt(settings.model, message.caption)
      if (Either.isLeft(prompt)) {
        const length = (message.caption ?? "").trim().length
        return yield* reply(env, ctx, ctx.texts.captionTooLong(settings.model.label, settings.model.promptLimit, length))
      }
      const requestKey = photoRequestKey(message.chat.id, message.message_id)
      const started = yield* start(ctx, {
        requestKey,
        fileId,
        fileSize,
        prompt: prompt.right,
        model: settings.model,
        durationSeconds: settings.durationSeconds,
        cost: settings.cost
      })
      if (started === "no-room") yield* reply(env, ctx, ctx.texts.tooManyInFlight(maxJobsInFlight))
    })

  composer.on("message:photo", handler(env, "photo", (ctx) => {
    const photo = largest(ctx.message.photo)
    return photo === undefined ? reply(env, ctx, ctx.texts.hint) : fromImage(ctx, photo.file_id, photo.file_size)
  }))

  composer.on("message:document", handler(env, "document", (ctx) => {
    const document = ctx.message.document
    return document.mime_type?.startsWith("image/") === true
      ? fromImage(ctx, document.file_id, document.file_size)
      : reply(env, ctx, ctx.texts.notAnImage)
  }))

  /** The job a button points at, if it is this user's. */
  const ownJob = (ctx: BotContext, jobId: JobId) =>
    Effect.map(env.state.job(jobId), Option.filter((job) => job.userId === ctx.user.ops.userId))

  composer.callbackQuery(/^again:/, handler(env, "again", (ctx) =>
    Effect.gen(function*() {
      const action = parseCallbackData(ctx.callbackQuery.data)
      const source = action._tag === "Again" ? yield* ownJob(ctx, action.jobId) : Option.none()
      // A job whose photo /forget erased has nothing to generate again from.
      if (action._tag !== "Again" || Option.isNone(source) || source.value.photoFileId === "") {
        return yield* answer(ctx, ctx.texts.staleButton)
      }
      const job = source.value
      const now = yield* Clock.currentTimeMillis
      const previous = yield* env.state.latestRetryOf(action.jobId)
      if (Option.isSome(previous) && now - previous.value.createdAtMs < doubleTapWindowMs) {
        return yield* answer(ctx, ctx.texts.againAlreadyStarted)
      }
      const model = findModel(job.model)
      if (model === undefined) return yield* answer(ctx, ctx.texts.staleButton)
      const cost = creditsFor(model, job.durationSeconds) ?? 1
      const requestKey = `again:${action.jobId}:${ctx.callbackQuery.id}`
      const balance = yield* ctx.user.ops.balance
      if (balance.total < cost) {
        yield* answer(ctx)
        return yield* replyInsufficient(env, ctx, cost, balance)
      }
      const started = yield* start(ctx, {
        requestKey,
        fileId: job.photoFileId,
        fileSize: undefined,
        prompt: job.prompt,
        model,
        durationSeconds: job.durationSeconds,
        cost
      })
      // Answered after the start, one short commit, well inside Telegram's limit for a press.
      yield* started === "no-room"
        ? answer(ctx, ctx.texts.tooManyInFlight(maxJobsInFlight), { alert: true })
        : answer(ctx, started === "started" ? ctx.texts.againStarting : undefined)
    })))

  composer.callbackQuery(/^cancel:/, handler(env, "cancel", (ctx) =>
    Effect.gen(function*() {
      const action = parseCallbackData(ctx.callbackQuery.data)
      const found = action._tag === "Cancel" ? yield* ownJob(ctx, action.jobId) : Option.none()
      if (action._tag !== "Cancel" || Option.isNone(found)) return yield* answer(ctx, ctx.texts.staleButton)
      const job = found.value
      const jobId = action.jobId
      yield* Effect.gen(function*() {
        // Whether it still can be cancelled is the job's own answer (src/jobs/job-machine.ts).
        if (job.state === "delivered" || job.state === "refunded" || job.state === "failed") {
          return yield* answer(ctx, ctx.texts.tooLateToCancel)
        }
        yield* answer(ctx, ctx.texts.cancelling)
        // The job entity tells the user that it was cancelled and the credit is back.
        const outcome = yield* env.jobs(jobId).Cancel({
          jobId,
          userId: ctx.user.ops.userId,
          requestKey: `cancel:${ctx.callbackQuery.id}`
        })
        yield* Effect.logInfo(`cancel requested: ${outcome}`)
        if (outcome === "too-late") yield* reply(env, ctx, ctx.texts.tooLateToCancel)
        if (outcome === "not-found") yield* reply(env, ctx, ctx.texts.staleButton)
      }).pipe(forJob(jobId))
    })))

  return composer
}

