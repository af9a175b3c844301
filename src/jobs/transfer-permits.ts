/**
 * How many file transfers one runner holds in memory at once (MAX_CONCURRENT_TRANSFERS):
 * a user's photo from Telegram's download to the end of its upload to KIE (up to 20 MB),
 * and a video that Telegram would not fetch by URL, from its download to the end of its
 * upload (up to 50 MB). Without a bound, a burst of photos (or a KIE upload outage, during
 * which every job keeps its photo through the retries) holds as many buffers as there are
 * jobs. A permit covers the whole time the bytes are held, retries included; everything
 * else (API calls, videos Telegram fetches itself) needs none.
 *
 * The permits are an ordered turn, not Effect's Semaphore: under a burst thousands of jobs
 * wait here, and the Semaphore's wake-ups and stacks grow with every release
 * (../rate-limits/ordered-turn.ts). Waiters are served in the order they came.
 */
import { Effect, Layer, Metric } from "effect"
import { AppConfig } from "../config/index.js"
import { makeOrderedTurn } from "../rate-limits/ordered-turn.js"

export const transfersInProgress = Metric.gauge("file_transfers_in_progress", {
  description: "photo and video transfers this runner holds in memory now"
})
export const transfersWaiting = Metric.gauge("file_transfers_waiting", {
  description: "transfers waiting for a permit (MAX_CONCURRENT_TRANSFERS)"
})

export const makeTransferPermits = (permits: number) =>
  Effect.map(makeOrderedTurn(permits), (line) => ({
    permits,
    /** Whether a transfer started now would have a permit at once. */
    free: line.free,
    /** Runs `transfer` holding one permit; waits for one first when all are taken. */
    withPermit: <A, E, R>(transfer: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.suspend(() => {
        // The wait ends either inside the permit or, interrupted, without one: counted once.
        let waited = true
        const stopWaiting = Effect.suspend(() => {
          if (!waited) return Effect.void
          waited = false
          return Metric.incrementBy(transfersWaiting, -1)
        })
        const holding = Effect.acquireUseRelease(
          Effect.zipRight(stopWaiting, Metric.increment(transfersInProgress)),
          () => transfer,
          () => Metric.incrementBy(transfersInProgress, -1)
        )
        return Metric.increment(transfersWaiting).pipe(
          Effect.zipRight(line.withTurn(holding)),
          Effect.ensuring(stopWaiting)
        )
      })
  }))

export class TransferPermits extends Effect.Service<TransferPermits>()("app/TransferPermits", {
  effect: Effect.flatMap(AppConfig, (config) => makeTransferPermits(config.maxConcurrentTransfers))
}) {
  /** An explicit number of permits (tests, tools). */
  static readonly layerWith = (permits: number) => Layer.effect(TransferPermits, Effect.map(makeTransferPermits(permits), TransferPermits.make))
}
