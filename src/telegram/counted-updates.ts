/**
 * The updates this process has let through the flood limit (./features/limits.ts), shared by
 * the bot's flood feature and the poller's lone photos (./intake/lone-photos.ts).
 */
import { Effect } from "effect"

/**
 * How many counted update ids are remembered: far more than are handled again at once, and
 * than the poller counts in the seconds before an entity handles a photo it declined.
 */
const rememberedUpdates = 100_000

/**
 * So that no update is counted twice: not by a handling that is tried again, nor by the
 * poller and then the user's entity, for a photo the poller counted and left to the entity.
 * An entity on another runner counts it again. Insertion-ordered, so the oldest id is the
 * first one evicted.
 */
export class CountedUpdates extends Effect.Service<CountedUpdates>()("app/CountedUpdates", {
  sync: () => {
    const counted = new Set<number>()
    return {
      has: (updateId: number) => counted.has(updateId),
      remember: (updateId: number) => {
        counted.add(updateId)
        if (counted.size > rememberedUpdates) counted.delete(counted.values().next().value!)
      }
    } as const
  }
}) {}
