/**
 * The cluster runtime of this process: embedded (one runner, no socket) or cluster mode
 * (socket transport, several runners on Postgres).
 *
 * Both are assembled here from the cluster's parts instead of through `SingleRunner.layer`
 * or `NodeClusterSocket.layer`, because those read HOST, PORT, SHARDS_PER_GROUP… from the
 * environment (docs/architecture.md, "Cluster pitfalls") and a stray PORT on a hosting platform would silently move
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
import { RpcSerialization } from "@effect/rpc"
import { ConfigError, Effect, Layer, Option, type Redacted, Schema } from "effect"
import { AppConfig, type AppSettings, clusterSecretRequired } from "../config/index.js"
import { DrainOnSigterm } from "./drain.js"
import { liveRunnerAddresses } from "./live-runners.js"
import { underMigrationLock } from "../storage/migrations.js"
import * as RunnerTransport from "./transport.js"

/** Must be equal on every runner of a cluster. */
export const SHARDS_PER_GROUP = 300

export const shardingSettings = (config: AppSettings): Partial<ShardingConfig.ShardingConfig["Type"]> => ({
  runnerAddress: Option.some(RunnerAddress.make(config.runnerHost, config.runnerPort)),
  runnerListenAddress: Option.none(),
  shardsPerGroup: SHARDS_PER_GROUP,
  // Failover timings (docs/operations.md). A killed runner's shards move when a health
  // ping fails (every RUNNER_HEALTH_CHECK_INTERVAL) or its heartbeat is older than
  // SHARD_LOCK_EXPIRATION, whichever comes first; the cluster's defaults give ~29 s.
  shardLockRefreshInterval: `${config.cluster.shardLockRefreshMs} millis`,
  shardLockExpiration: `${config.cluster.shardLockExpirationMs} millis`,
  runnerHealthCheckInterval: `${config.cluster.healthCheckIntervalMs} millis`,
  refreshAssignmentsInterval: "1 second",
  // Handlers checkpoint their progress in SQL, so shutdown need not wait long for them.
  entityTerminationTimeout: `${config.cluster.entityTerminationTimeoutMs} millis`,
  // A persisted message that misses the in-process hand-off (seen under bursts of
  // concurrent sends to one entity on Postgres) waits for the next storage poll; the
  // default 10 s would be felt by users.
  entityMessagePollInterval: "1 second"
})

/**
 * The cluster's storage layers create their tables when built (each with a migrator whose
 * first statement, CREATE TABLE IF NOT EXISTS, races on Postgres: two runners starting
 * together on a fresh database failed with a duplicate pg_type row). They are built under
 * the app's migration lock, one runner after the other.
 */
export const builtUnderMigrationLock = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  Layer.scopedContext(underMigrationLock(Layer.build(layer)))

const runnerStorage = Layer.orDie(builtUnderMigrationLock(SqlRunnerStorage.layer))
const messageStorage = Layer.orDie(builtUnderMigrationLock(SqlMessageStorage.layer))

/** One runner on the local database: no socket, no health pings. */
export const embeddedRunner = (settings: Partial<ShardingConfig.ShardingConfig["Type"]>) =>
  Sharding.layer.pipe(
    Layer.provideMerge(Runners.layerNoop),
    Layer.provideMerge(messageStorage),
    Layer.provide([runnerStorage, RunnerHealth.layerNoop]),
    Layer.provide(ShardingConfig.layer(settings))
  )

/**
 * A runner among many: runners talk over sockets and ping each other for health, both over
 * the authenticated transport (src/cluster/transport.ts). The health pings build a client
 * protocol of their own, so it is swapped there too, or pings would speak plain TCP to a
 * TLS port and every peer would look dead.
 */
export const socketRunner = (
  settings: Partial<ShardingConfig.ShardingConfig["Type"]>,
  clusterSecret: Redacted.Redacted<string>
) => {
  const clientProtocol = RunnerTransport.layerClientProtocol(clusterSecret)
  return SocketRunner.layer.pipe(
    Layer.provide([RunnerTransport.layerSocketServer(clusterSecret), clientProtocol]),
    Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(clientProtocol))),
    Layer.provideMerge(messageStorage),
    Layer.provide(runnerStorage),
    Layer.provide(ShardingConfig.layer(settings)),
    Layer.provide(RpcSerialization.layerMsgPack)
  )
}

export class ClusterRefused extends Schema.TaggedError<ClusterRefused>()("ClusterRefused", {
  reason: Schema.String
}) {
  get message() {
    return this.reason
  }
}

/**
 * Other runners that are live (./live-runners.ts), read before this runner registers: none
 * on a fresh database, where the runner table does not exist yet.
 */
export const liveRunnersOtherThan = (self: string, expirationMs: number) =>
  liveRunnerAddresses(expirationMs).pipe(
    Effect.orElseSucceed((): ReadonlyArray<string> => []),
    Effect.map((addresses) => addresses.filter((address) => address !== self))
  )

/**
 * Several runners share Postgres only together with Redis: the KIE rate limit and the
 * Telegram limits are per process without it, so two runners would send twice the allowed
 * rate. (Several runners on one SQLite file are refused by the database lock.)
 */
const refuseUnsafeCluster = (config: AppSettings) =>
  Effect.gen(function*() {
    if (Option.isSome(config.redisUrl)) return
    const self = `${config.runnerHost}:${config.runnerPort}`
    const others = yield* liveRunnersOtherThan(self, config.cluster.shardLockExpirationMs)
    if (others.length > 0) {
      return yield* new ClusterRefused({
        reason: `Another runner is live on this database (${others.join(", ")}) and REDIS_URL is not set. ` +
          `Several runners share the KIE and Telegram rate limits through Redis: set the same REDIS_URL on every runner, ` +
          `or stop the other runner.`
      })
    }
  })

/**
 * A runner whose CLUSTER_SECRET differs from the live runners' cannot talk with them: it
 * would hold shards it cannot serve to the others until their health pings mark it
 * unhealthy (seen: 150 of 300 shards for about 4 s), then sit idle, unready. It stops at
 * start-up instead, naming the runners that refused its key.
 */
const refuseForeignSecret = (config: AppSettings, clusterSecret: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const others = yield* liveRunnersOtherThan(`${config.runnerHost}:${config.runnerPort}`, config.cluster.shardLockExpirationMs)
    const outcomes = yield* Effect.forEach(others.slice(0, 5), (address) => {
      const colon = address.lastIndexOf(":")
      const peer = { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) }
      return Effect.map(RunnerTransport.handshakeWith(peer, clusterSecret), (outcome) => ({ address, outcome }))
    }, { concurrency: "unbounded" })
    const refusedBy = outcomes.filter((peer) => peer.outcome === "refused").map((peer) => peer.address)
    if (refusedBy.length === 0 || outcomes.some((peer) => peer.outcome === "accepted")) return
    return yield* new ClusterRefused({
      reason: `CLUSTER_SECRET differs from the live runners' (${refusedBy.join(", ")} refused this runner's key). ` +
        `Give every runner the same one; to change it, stop every runner first (docs/operations.md, Security).`
    })
  })

export const RunnerLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* AppConfig
    if (config.database._tag === "Sqlite") return embeddedRunner(shardingSettings(config))
    // src/config/ requires it with a bot token and the sandbox supplies one without.
    if (Option.isNone(config.clusterSecret)) {
      return yield* Effect.fail(ConfigError.MissingData(["CLUSTER_SECRET"], clusterSecretRequired))
    }
    yield* refuseUnsafeCluster(config)
    yield* refuseForeignSecret(config, config.clusterSecret.value)
    return socketRunner(shardingSettings(config), config.clusterSecret.value)
  })
).pipe(Layer.merge(DrainOnSigterm))

/** True once this runner owns at least one shard and is not shutting down. */
export const holdsShards = Effect.map(Sharding.Sharding, (sharding) => {
  for (let id = 1; id <= SHARDS_PER_GROUP; id++) {
    if (sharding.hasShardId(ShardId.make("default", id))) return true
  }
  return false
})

/** How many of the shards this runner owns now (shown by /readyz; 0 while shutting down). */
export const ownedShardCount = Effect.map(Sharding.Sharding, (sharding) => {
  let count = 0
  for (let id = 1; id <= SHARDS_PER_GROUP; id++) {
    if (sharding.hasShardId(ShardId.make("default", id))) count++
  }
  return count
})
