/**
 * An outsider at a runner's RUNNER_PORT: a client that speaks the cluster's own RPC
 * (`Runners.Rpcs`, msgpack) and hands the runner a request envelope for any entity, as
 * another runner would. It holds no database and no entity client: only an address and,
 * when it has one, a secret.
 */
import { EntityAddress, EntityId, EntityType, MachineId, RunnerAddress, Runners, ShardId, Snowflake } from "@effect/cluster"
import { Headers } from "@effect/platform"
import { NodeClusterSocket } from "@effect/platform-node"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { Effect, Exit, Layer, Redacted } from "effect"
import * as RunnerTransport from "../../src/cluster/transport.js"
import { SHARDS_PER_GROUP } from "../../src/cluster/runner.js"

/** Plain TCP, as before the runner port was authenticated, or TLS-PSK with a given secret. */
export type ProbeTransport = { readonly _tag: "plain" } | { readonly _tag: "psk"; readonly secret: string }

export type ProbeOutcome =
  | { readonly _tag: "Replied"; readonly exit: unknown }
  | { readonly _tag: "Refused"; readonly reason: string }

/** The cluster's placement (Sharding.getShardId of @effect/cluster), which an outsider can compute too. */
const shardOf = (entityId: string) => {
  let h = 5381
  let i = entityId.length
  while (i) h = (h * 33) ^ entityId.charCodeAt(--i)
  const hash = (h & 0xbfffffff) | ((h >>> 1) & 0x40000000)
  return Math.abs(hash % SHARDS_PER_GROUP) + 1
}

const protocolFor = (transport: ProbeTransport) =>
  (transport._tag === "plain"
    ? NodeClusterSocket.layerClientProtocol
    : RunnerTransport.layerClientProtocol(Redacted.make(transport.secret))).pipe(
      Layer.provide(RpcSerialization.layerMsgPack)
    )

let sequence = 0

/**
 * Sends one volatile request (`tag` with its encoded `payload`) to an entity through the
 * runner at `port`; `Replied` when the runner answered, `Refused` when the connection or the
 * request failed or nothing came back within the timeout.
 */
export const forgeRequest = (options: {
  readonly port: number
  readonly transport: ProbeTransport
  readonly entityType: string
  readonly entityId: string
  readonly tag: string
  readonly payload: unknown
}): Effect.Effect<ProbeOutcome> =>
  Effect.gen(function*() {
    const makeProtocol = yield* Runners.RpcClientProtocol
    const protocol = yield* makeProtocol(RunnerAddress.make("127.0.0.1", options.port))
    const client = yield* Runners.makeRpcClient.pipe(Effect.provideService(RpcClient.Protocol, protocol))
    const requestId = Snowflake.make({ timestamp: Date.now(), machineId: MachineId.make(777), sequence: sequence++ })
    return yield* client.Effect({
      request: {
        _tag: "Request",
        requestId,
        address: new EntityAddress.EntityAddress({
          shardId: ShardId.make("default", shardOf(options.entityId)),
          entityType: EntityType.EntityType.make(options.entityType),
          entityId: EntityId.make(options.entityId)
        }),
        tag: options.tag,
        payload: options.payload,
        headers: Headers.empty
      },
      persisted: false
    })
  }).pipe(
    Effect.scoped,
    Effect.timeout("6 seconds"),
    Effect.provide(protocolFor(options.transport)),
    Effect.exit,
    Effect.map((exit): ProbeOutcome =>
      Exit.isSuccess(exit)
        ? { _tag: "Replied", exit: (exit.value as { readonly exit?: unknown }).exit }
        : { _tag: "Refused", reason: String(exit.cause).slice(0, 200) }
    )
  )
