/** This runner's place in the cluster: its address, the shared secret and the failover timings. */
import { Config, ConfigError, Either } from "effect"
import { durationIn, integerIn, optionalDurationIn, optionalRedacted, plainString } from "./parsers.js"

export const runnerHost = plainString("RUNNER_HOST", "127.0.0.1")

export const runnerPort = integerIn("RUNNER_PORT", 1, 65535, 34431)

/**
 * Authenticates runner-to-runner traffic; the same on every runner. Required in cluster
 * mode with a bot token (src/config/index.ts); src/sim/sandbox.ts fills in its own without.
 */
export const clusterSecret = optionalRedacted(
  "CLUSTER_SECRET",
  (secret) =>
    secret.length < 32 ? `at least 32 characters (e.g. openssl rand -base64 32), got ${secret.length}` : undefined
)

export const clusterSecretRequired =
  "CLUSTER_SECRET must be set in cluster mode (DATABASE_URL=postgres://…) with a TELEGRAM_BOT_TOKEN: " +
  "the same value on every runner, at least 32 characters (e.g. openssl rand -base64 32)"

/** Durations in milliseconds; the same on every runner of a cluster (docs/operations.md). */
export const clusterTimings = Config.all({
  /** How often a runner heartbeats and refreshes its shard locks. */
  shardLockRefreshMs: durationIn("SHARD_LOCK_REFRESH", 500, 60_000, "2s"),
  /** A runner silent this long is dead; its shards move. */
  shardLockExpirationMs: durationIn("SHARD_LOCK_EXPIRATION", 1_500, 300_000, "6s"),
  /** How often the runners ping each other; a failed ping moves shards sooner. */
  healthCheckIntervalMs: durationIn("RUNNER_HEALTH_CHECK_INTERVAL", 500, 600_000, "2s"),
  /** How long shutdown waits for running handlers before interrupting them. */
  entityTerminationTimeoutMs: durationIn("ENTITY_TERMINATION_TIMEOUT", 0, 300_000, "5s"),
  /**
   * After SIGTERM, how long /readyz answers 503 before the runner hands its shards over
   * (unset: 1 s in cluster mode, none in embedded mode).
   */
  drainGraceMs: optionalDurationIn("DRAIN_GRACE", 0, 120_000, "a duration from 0 to 120 s, like 1s or 500ms")
}).pipe(
  Config.mapOrFail((timings) =>
    timings.shardLockRefreshMs * 2 > timings.shardLockExpirationMs
      ? Either.left(
        ConfigError.InvalidData(
          [],
          `SHARD_LOCK_EXPIRATION must be at least twice SHARD_LOCK_REFRESH, got ${timings.shardLockExpirationMs} ms and ${timings.shardLockRefreshMs} ms`
        )
      )
      : Either.right(timings)
  )
)

export type ClusterTimings = Config.Config.Success<typeof clusterTimings>
