/**
 * Volatile wake-ups that never wait for another runner's handler. The cluster answers a
 * volatile message to an entity on this runner once it is in the entity's mailbox, but one
 * to an entity on another runner only once that runner's handler has returned (its reply
 * comes back over the runners' RPC). A sender that waited there would take on the other
 * side's run: a user's entity the transfer of a photo and a KIE submission, the job waker a
 * whole batch of runs, the inbox's wake workers the users' handlings.
 *
 * So a wake of an entity on another runner goes on in the background, bounded in time and
 * in number, and the sender goes on at once; a wake to this runner is sent as it is. Either
 * may be lost (a shard moving, a runner gone): whatever needs one has a durable fallback (a
 * due time, the inbox sweep), which each caller names in `onFailure`.
 */
import type { Entity, Sharding } from "@effect/cluster"
import { type Cause, Duration, Effect, FiberSet, type Scope } from "effect"
import { hostsEntity } from "./hosts-entity.js"

/**
 * How long a background wake may wait for the other runner's handler before it is let go
 * (the handler goes on there). Only a bound on what this runner keeps.
 */
export const remoteWakePatience = Duration.minutes(5)

/**
 * Background wakes one sender keeps at once. A runner that stops answering must not leave
 * this one collecting a fiber per wake for `remoteWakePatience`: beyond the bound the
 * sender waits for one to end, or leaves the wake to its fallback (`whenFull`).
 */
export const remoteWakesAtOnce = 1_000

export type WakeSender = <E>(
  entityId: string,
  wake: Effect.Effect<void, E>,
  onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<void>
) => Effect.Effect<void>

/** A slot for one background wake: taken (true), or none free and the wake left (false). */
export const makeWakeSlots = (whenFull: "wait" | "leave") =>
  Effect.gen(function*() {
    if (whenFull === "wait") {
      const semaphore = yield* Effect.makeSemaphore(remoteWakesAtOnce)
      return { take: Effect.as(semaphore.take(1), true), release: semaphore.release(1) }
    }
    let taken = 0
    return {
      take: Effect.sync(() => {
        if (taken >= remoteWakesAtOnce) return false
        taken++
        return true
      }),
      release: Effect.sync(() => {
        taken--
      })
    }
  })

/**
 * The sender for `entity`'s instances; its background wakes live as long as the scope.
 * `whenFull: "leave"` is for senders that are entities themselves: one waiting for a slot
 * could wait on runs that wait on it in turn.
 */
export const makeWakeSender = (
  entity: Pick<Entity.Entity<string, any>, "getShardGroup">,
  whenFull: "wait" | "leave"
): Effect.Effect<WakeSender, never, Scope.Scope | Sharding.Sharding> =>
  Effect.gen(function*() {
    const isLocal = yield* hostsEntity(entity)
    const background = yield* FiberSet.make()
    const slots = yield* makeWakeSlots(whenFull)
    // Debug, not the caller's warning: under a burst on several runners this is every new job for a while.
    const leave = Effect.logDebug(`${remoteWakesAtOnce} wakes to other runners are under way; this one is left to its fallback`)
    return (entityId, wake, onFailure) =>
      isLocal(entityId)
        ? Effect.catchAllCause(wake, onFailure)
        : Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(restore(slots.take), (taken) =>
            taken
              ? FiberSet.run(
                background,
                wake.pipe(Effect.timeout(remoteWakePatience), Effect.catchAllCause(onFailure), Effect.ensuring(slots.release))
              ).pipe(Effect.asVoid)
              : leave)
        )
  })
