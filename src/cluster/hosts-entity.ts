/**
 * Whether an entity instance lives on this runner now: work kept in this process for it
 * (src/jobs/photo-uploads.ts) is only worth keeping while its entity's runs happen here.
 */
import { type Entity, EntityId, Sharding } from "@effect/cluster"
import { Effect } from "effect"

/** True while this runner owns the shard of `entity`'s instance `entityId`. */
export const hostsEntity = (entity: Pick<Entity.Entity<string, any>, "getShardGroup">) =>
  Effect.map(Sharding.Sharding, (sharding) => (entityId: string) => {
    const id = EntityId.make(entityId)
    return sharding.hasShardId(sharding.getShardId(id, entity.getShardGroup(id)))
  })
