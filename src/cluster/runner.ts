/**
 * The cluster runtime of this process: embedded (one runner, no socket) or cluster mode
 * (socket transport, several runners on Postgres).
 *
 * Both are assembled here from the cluster's parts instead of through `SingleRunner.layer`
 * or `NodeClusterSocket.layer`, because those read HOST, PORT, SHARDS_PER_GROUP… from the
 * environment (cluster-notes P3) and a stray PORT on a hosting platform would silently move
 * the runner. Every setting comes from `AppConfig` instead.
 */
import {
  RunnerAddress,
  RunnerHealth,
  Runners,
  Sharding,
  ShardingConfig,
  ShardId,
  SocketRunner,
  SqlMessageStorage,
  SqlRunnerStorage
} from "@effect/cluster"
import { NodeClusterSocket } from "@effect/platform-node"
import { RpcSerialization } from "@effect/rpc"
import { Effect, Layer, Option } from "effect"
import { AppConfig, type AppSettings } from "../config.js"

/** Must be equal on every runner of a cluster. */
export const SHARDS_PER_GROUP = 300

export const shardingSettings = (config: AppSettings): Partial<ShardingConfig.ShardingConfig["Type"]> => ({
  runnerAddress: Option.some(RunnerAddress.make(config.runnerHost, config.runnerPort)),
  runnerListenAddress: Option.none(),
  shardsPerGroup: SHARDS_PER_GROUP,
  // Handlers checkpoint their progress in SQL, so shutdown need not wait long for them.
  entityTerminationTimeout: "5 seconds",
  // A persisted message that misses the in-process hand-off (seen under bursts of
  // concurrent sends to one entity on Postgres) waits for the next storage poll; the
  // default 10 s would be felt by users.
  entityMessagePollInterval: "1 second"
})

const runnerStorage = Layer.orDie(SqlRunnerStorage.layer)

/** One runner on the local database: no socket, no health pings. */
export const embeddedRunner = (settings: Partial<ShardingConfig.ShardingConfig["Type"]>) =>
  Sharding.layer.pipe(
    Layer.provideMerge(Runners.layerNoop),
    Layer.provideMerge(SqlMessageStorage.layer),
    Layer.provide([runnerStorage, RunnerHealth.layerNoop]),
    Layer.provide(ShardingConfig.layer(settings))
  )

/** A runner among many: runners talk over sockets and ping each other for health. */
export const socketRunner = (settings: Partial<ShardingConfig.ShardingConfig["Type"]>) =>
  SocketRunner.layer.pipe(
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(
      RunnerHealth.layerPing.pipe(
        Layer.provide(Runners.layerRpc),
        Layer.provide(NodeClusterSocket.layerClientProtocol)
      )
    ),
    Layer.provideMerge(Layer.orDie(SqlMessageStorage.layer)),
    Layer.provide(runnerStorage),
    Layer.provide(ShardingConfig.layer(settings)),
    Layer.provide(RpcSerialization.layerMsgPack)
  )

export const RunnerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    config.database._tag === "Sqlite"
      ? embeddedRunner(shardingSettings(config))
      : socketRunner(shardingSettings(config))
  )
)

/** True once this runner owns at least one shard and is not shutting down. */
export const holdsShards = Effect.map(Sharding.Sharding, (sharding) => {
  for (let id = 1; id <= SHARDS_PER_GROUP; id++) {
    if (sharding.hasShardId(ShardId.make("default", id))) return true
  }
  return false
})
