/**
 * The core journey: a photo (or an image sent as a file) with its caption as the prompt
 * starts a job; the job entity answers with the progress message. The buttons under a
 * job's messages: Cancel (while the job has not reached KIE) and Generate again / Try
 * again (a new job with the same photo and prompt). Handlers start jobs and return; they
 * never wait for a generation.
 */
import { Clock, Effect, Either, Option } from "effect"
import { Composer } from "grammy"
import type { PhotoSize } from "grammy/types"
import { jobIdFor } from "../../domain/ids.js"
import type { JobId } from "../../domain/ids.js"
import { creditsFor, findModel, preparePrompt, type VideoModel } from "../../kie/models.js"
import { parseCallbackData } from "../callback-data.js"
import { answer, type BotContext, type BotEnv, forJob, handler, reply } from "../context.js"
import { replyInsufficient } from "./payments.js"
import { currentSettings } from "./settings.js"

/** Two presses on one job's button within this window start one job. */
export const doubleTapWindowMs = 10_000

const largest = (sizes: ReadonlyArray<PhotoSize>): PhotoSize | undefined =>
  sizes.reduce<PhotoSize | undefined>(
    (best, size) => best === undefined || size.width * size.height > best.width * best.height ? size : best,
    undefined
  )

interface NewJob {
  readonly requestKey: string
  readonly fileId: string
  readonly fileSize: number | undefined
  readonly prompt: string
  readonly model: VideoModel
  readonly durationSeconds: number
  readonly cost: number
}

export const generateFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  const { maxJobsInFlight } = env.config.bot

  /**
   * Starts the job, the room check included, in one commit; the job entity sends the
   * progress message. Only refusals are answered here: `onNoRoom` when the user has
   * `maxJobsInFlight` unfinished jobs (a request already started always has room).
   */
  const start = (ctx: BotContext, job: NewJob, onNoRoom: Effect.Effect<void>) =>
    ctx.user.ops.admit({
      requestKey: job.requestKey,
      chatId: ctx.chat?.id ?? ctx.user.ops.userId,
      photo: job.fileSize === undefined ? { fileId: job.fileId } : { fileId: job.fileId, fileSize: job.fileSize },
      prompt: job.prompt,
      model: job.model.slug,
      durationSeconds: job.durationSeconds,
      cost: job.cost,
      languageCode: ctx.lang
    }, { maxInFlight: maxJobsInFlight, updateId: ctx.update.update_id }).pipe(
      Effect.flatMap((started) => Option.isSome(started) ? Effect.void : onNoRoom),
      Effect.catchTag("InsufficientCredits", () =>
        Effect.flatMap(ctx.user.ops.balance, (balance) => replyInsufficient(env, ctx, job.cost, balance))),
      forJob(jobIdFor(ctx.user.ops.userId, job.requestKey))
    )

  const fromImage = (ctx: BotContext, fileId: string, fileSize: number | undefined) =>
    Effect.gen(function*() {
      const message = ctx.message!
      const settings = yield* currentSettings(env, ctx)
      const prompt = preparePrompt(settings.model, message.caption)
      if (Either.isLeft(prompt)) {
        const length = (message.caption ?? "").trim().length
        return yield* reply(env, ctx, ctx.texts.captionTooLong(settings.model.label, settings.model.promptLimit, length))
      }
      const requestKey = `msg:${message.chat.id}:${message.message_id}`
      yield* start(ctx, {
        requestKey,
        fileId,
        fileSize,
        prompt: prompt.right,
        model: settings.model,
        durationSeconds: settings.durationSeconds,
        cost: settings.cost
      }, reply(env, ctx, ctx.texts.tooManyInFlight(maxJobsInFlight)))
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
      if (action._tag !== "Again" || Option.isNone(source)) return yield* answer(ctx, ctx.texts.staleButton)
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
      let refused = false
      yield* start(ctx, {
        requestKey,
        fileId: job.photoFileId,
        fileSize: undefined,
        prompt: job.prompt,
        model,
        durationSeconds: job.durationSeconds,
        cost
      }, Effect.sync(() => {
        refused = true
      }))
      // Answered after the start, which is one short commit: the press is answered well inside Telegram's limit.
      yield* refused
        ? answer(ctx, ctx.texts.tooManyInFlight(maxJobsInFlight), { alert: true })
        : answer(ctx, ctx.texts.againStarting)
    })))

  composer.callbackQuery(/^cancel:/, handler(env, "cancel", (ctx) =>
    Effect.gen(function*() {
      const action = parseCallbackData(ctx.callbackQuery.data)
      const found = action._tag === "Cancel" ? yield* ownJob(ctx, action.jobId) : Option.none()
      if (action._tag !== "Cancel" || Option.isNone(found)) return yield* answer(ctx, ctx.texts.staleButton)
      const job = found.value
      const jobId = action.jobId
      yield* Effect.gen(function*() {
        const cancellable = job.kieTaskId === null && job.outcome === null &&
          (job.state === "queued" || job.state === "submitting")
        if (!cancellable) return yield* answer(ctx, ctx.texts.tooLateToCancel)
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

