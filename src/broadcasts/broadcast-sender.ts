/**
 * The broadcast sender: a cluster Singleton, so one runner at a time sends. It works through
 * the running campaigns oldest first, claiming recipients in small batches and writing each
 * recipient's outcome as soon as Telegram has answered for it: `sent`, `blocked` (403; the
 * user's row is marked blocked too) or `failed` (any other permanent answer, or transient
 * ones after the gateway's retries).
 *
 * Every message goes out at the "bulk" priority (src/telegram/outgoing-limits.ts): it takes
 * only the budget that jobs' videos and replies leave, so a campaign never delays a video.
 *
 * When the runner dies, the singleton starts on another runner with a new run id and resumes
 * from the table: nobody `sent` gets the message again and nobody `pending` is skipped. A
 * recipient claimed by the dead run (`sending`, a send in flight at the kill) is sent again,
 * since nothing tells whether Telegram had taken it: at most the sends in flight at the kill
 * (`sendConcurrency`) can reach their user twice; `analytics_broadcasts` counts the recipients
 * claimed twice as `resent`. A pass that fails (the database away for a moment) leaves its
 * batch's unanswered recipients `sending` too, and the next claim takes them again, the sends
 * it cut off included.
 */
import { Singleton } from "@effect/cluster"
import { Clock, Duration, Effect, Layer, LogLevel, Option, Ref } from "effect"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../config/index.js"
import { UserId } from "../domain/ids.js"
import type { TelegramError } from "../errors/telegram-errors.js"
import { operatorTexts } from "../i18n/operator.js"
import { logFailure } from "../observability/error-summary.js"
import { type Broadcast, BroadcastsRepo } from "../storage/broadcasts-repo.js"
import { UsersRepo } from "../storage/users-repo.js"
import { TelegramGateway } from "../telegram/gateway.js"
import { broadcastControlKeyboard } from "../telegram/keyboards.js"

/**
 * Recipients claimed at once: about a second of sending at the broadcast's rate, so an
 * admin's pause or cancel, read again after each batch, takes effect within a second or so.
 */
export const claimBatchFor = (perSecond: number) => Math.max(1, Math.min(40, perSecond))
/** Sends in flight at once; the limiter, not this, sets the pace (this covers the store's and Telegram's latency). */
export const sendConcurrency = 16
/** How often the admin's progress message is edited at most. */
const progressEvery = Duration.seconds(5)
const idlePoll = Duration.seconds(1)

const outcomeOf = (error: TelegramError) =>
  error._tag === "TelegramPermanentError" && error.reason === "BlockedByUser" ? "blocked" as const : "failed" as const

const sendLoop = Effect.gen(function*() {
  const repo = yield* BroadcastsRepo
  const users = yield* UsersRepo
  const gateway = yield* TelegramGateway
  const { telegram } = yield* AppConfig
  const claimBatch = claimBatchFor(telegram.broadcastPerSecond)
  const run = randomUUID()
  const lastProgress = yield* Ref.make(0)

  const sendTo = (campaign: Broadcast, userId: number) =>
    gateway.sendBroadcast(userId, campaign.content).pipe(
      Effect.matchEffect({
        onSuccess: (messageId) => repo.record(campaign.id, userId, "sent", { messageId }),
        onFailure: (error) => {
          const outcome = outcomeOf(error)
          // The user first: a kill between the two writes then leaves the recipient claimed,
          // and the next run sends again and records it. The other way round left a recipient
          // recorded blocked whose user was never marked (seen in the broadcast failover).
          return (outcome === "blocked" ? users.markBlocked(UserId.make(userId), true) : Effect.void).pipe(
            Effect.zipRight(repo.record(campaign.id, userId, outcome, { error: `${error._tag}: ${error.reason}` }))
          )
        }
      })
    )

  const tellAdmin = (campaign: Broadcast, text: string, keyboard: ReturnType<typeof broadcastControlKeyboard> | undefined) =>
    (campaign.statusMessageId === undefined
      ? gateway.sendMessage(campaign.adminChatId, text, { keyboard })
      : gateway.editMessageText(campaign.adminChatId, campaign.statusMessageId, text, { keyboard, priority: "progress" })).pipe(
        Effect.asVoid,
        Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not update the admin on a broadcast", error))
      )

  /** The admin's progress message, with the buttons of the campaign's state now (paused meanwhile, say). */
  const progress = (campaignId: number) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (now - (yield* Ref.get(lastProgress)) < Duration.toMillis(progressEvery)) return
      yield* Ref.set(lastProgress, now)
      const current = yield* repo.get(campaignId)
      if (Option.isNone(current)) return
      const campaign = current.value
      if (campaign.state !== "running" && campaign.state !== "paused") return
      const counts = yield* repo.counts(campaign.id)
      yield* tellAdmin(
        campaign,
        operatorTexts.broadcastProgress(campaign.id, campaign.state, counts, campaign.recipients),
        broadcastControlKeyboard(campaign.id, campaign.state)
      )
    })

  /** The final report: the progress message loses its buttons, and a new message says how it went. */
  const report = (campaign: Broadcast) =>
    Effect.gen(function*() {
      if (campaign.state !== "done" && campaign.state !== "cancelled") return
      const counts = yield* repo.counts(campaign.id)
      const text = operatorTexts.broadcastReport(campaign.id, campaign.state, counts, campaign.recipients)
      if (campaign.statusMessageId !== undefined) yield* tellAdmin(campaign, text, undefined)
      yield* gateway.sendMessage(campaign.adminChatId, text).pipe(
        Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not send a broadcast's report", error))
      )
      yield* repo.markReported(campaign.id)
      yield* Effect.logInfo("broadcast ended").pipe(
        Effect.annotateLogs({ broadcastId: campaign.id, state: campaign.state, ...counts })
      )
    })

  /** One batch of the campaign; false when it has no recipient left (it is then done). */
  const batch = (campaign: Broadcast) =>
    Effect.gen(function*() {
      const claimed = yield* repo.claim(campaign.id, run, claimBatch)
      if (claimed.length === 0) {
        yield* repo.transition(campaign.id, ["running"], "done")
        return false
      }
      yield* Effect.forEach(claimed, (userId) => sendTo(campaign, userId), { concurrency: sendConcurrency, discard: true })
      yield* progress(campaign.id)
      return true
    }).pipe(Effect.annotateLogs({ broadcastId: campaign.id }))

  const pass = Effect.gen(function*() {
    for (const ended of yield* repo.unreported()) yield* report(ended)
    const running = yield* repo.running()
    const campaign = running[0]
    if (campaign === undefined) return yield* Effect.sleep(idlePoll)
    yield* Effect.logInfo("broadcast sender: sending").pipe(Effect.annotateLogs({ broadcastId: campaign.id, run }))
    // The campaign's row is read again each batch: an admin's pause or cancel stops it there.
    let current = Option.some(campaign)
    while (Option.isSome(current) && current.value.state === "running" && (yield* batch(current.value))) {
      current = yield* repo.get(campaign.id)
    }
  }).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("broadcast sender pass failed; next pass retries", cause).pipe(
      Effect.zipRight(Effect.sleep(idlePoll))
    ))
  )

  return yield* Effect.forever(pass)
})

export const BroadcastSenderLive = Singleton.make("broadcast-sender", sendLoop).pipe(
  Layer.provide([BroadcastsRepo.Default, UsersRepo.Default])
)
