/**
 * Volatile wake-ups that never wait for another runner's handler. The cluster answers a
 * volatile message to an entity on this runner once it is in the entity's mailbox, but one
 * to an entity on another runner only once that runner's handler has returned (its reply
 * comes back over the runners' RPC). A sender that waited there would take on the other
 * side's run: a user's entity the transfer of a photo and a KIE submission, the job waker a
 * whole batch of runs, the inbox's wake workers the users' handlings.
 *
 * So a wake of an entity on another runner goes on in the background, bounded in time,
 * and the sender goes on at once; a wake to this runner is sent as it is. Either may be
 * lost (a shard moving, a runner gone): whatever needs one has a durable fallback (a due
 * time, the inbox sweep), which each caller names in `onFailure`.
 */
import type { Entity, Sharding } from "@effect/cluster"
import { type Cause, Duration, Effect, FiberSet, type Scope } from "effect"
import { hostsEntity } from "./hosts-entity.js"

/**
 * How long a background wake may wait for the other runner's handler before it is let go
 * (the handler goes on there). Only a bound on what this runner keeps.
 */
export const remoteWakePatience = Duration.minutes(5)

export type WakeSender = <E>(
  entityId: string,
  wake: Effect.Effect<void, E>,
  onFailure: (cause: Cause.Cause<E | unknown>) => Effect.Effect<void>
) => Effect.Effect<void>

/** The sender for `entity`'s instances; its background wakes live as long as the scope. */
export const makeWakeSender = (
  entity: Pick<Entity.Entity<string, any>, "getShardGroup">
): Effect.Effect<WakeSender, never, Scope.Scope | Sharding.Sharding> =>
  Effect.gen(function*() {
    const isLocal = yield* hostsEntity(entity)
    const background = yield* FiberSet.make()
    return (entityId, wake, onFailure) =>
      isLocal(entityId)
        ? Effect.catchAllCause(wake, onFailure)
        : FiberSet.run(background, wake.pipe(Effect.timeout(remoteWakePatience), Effect.catchAllCause(onFailure))).pipe(
          Effect.asVoid
        )
  })
