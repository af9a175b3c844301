/**
 * What the runner port's TLS costs: the cluster's RPC stack (RpcServer on a SocketServer,
 * RpcClient on `Runners.RpcClientProtocol`, msgpack) in one process over loopback, today's
 * plain TCP against TLS 1.3 with the pre-shared key (src/cluster/transport.ts). Measures
 * the first request on a new connection (TCP connect, the handshake for TLS, one round
 * trip), and round trips one at a time and 50 in flight on an open one.
 *
 *   npm run bench:runner-transport [-- --requests 5000 --connections 200]
 */
import { RunnerAddress, Runners, ShardingConfig } from "@effect/cluster"
import { NodeClusterSocket } from "@effect/platform-node"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { parseArgs } from "node:util"
import * as RunnerTransport from "../src/cluster/transport.js"
import { freePort } from "./support.js"

const { values: args } = parseArgs({
  options: { requests: { type: "string", default: "5000" }, connections: { type: "string", default: "200" } }
})
const requests = Number(args.requests)
const connections = Number(args.connections)
const secret = Redacted.make("bench-cluster-secret-of-at-least-32-characters")

class Bench extends RpcGroup.make(Rpc.make("Echo", { payload: { n: Schema.Number }, success: Schema.Number })) {}

const percentile = (values: ReadonlyArray<number>, p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? NaN

const transports = {
  plain: { server: NodeClusterSocket.layerSocketServer, client: NodeClusterSocket.layerClientProtocol },
  "tls-psk": { server: RunnerTransport.layerSocketServer(secret), client: RunnerTransport.layerClientProtocol(secret) }
} as const

const measure = (name: keyof typeof transports, port: number) =>
  Effect.gen(function*() {
    const makeProtocol = yield* Runners.RpcClientProtocol
    const address = RunnerAddress.make("127.0.0.1", port)
    const openOne = Effect.gen(function*() {
      const client = yield* RpcClient.make(Bench).pipe(
        Effect.provideServiceEffect(RpcClient.Protocol, makeProtocol(address))
      )
      // The connection opens with the first request.
      const started = performance.now()
      yield* client.Echo({ n: 0 })
      return performance.now() - started
    }).pipe(Effect.scoped)
    const opens = yield* Effect.forEach(Array.from({ length: connections }), () => openOne)

    return yield* Effect.gen(function*() {
      const client = yield* RpcClient.make(Bench).pipe(Effect.provideServiceEffect(RpcClient.Protocol, makeProtocol(address)))
      yield* client.Echo({ n: 0 })
      let started = performance.now()
      for (let i = 0; i < requests; i++) yield* client.Echo({ n: i })
      const sequentialMs = performance.now() - started
      started = performance.now()
      yield* Effect.forEach(Array.from({ length: requests }, (_, i) => i), (n) => client.Echo({ n }), { concurrency: 50 })
      const concurrentMs = performance.now() - started
      return {
        transport: name,
        "new connection p50 ms": +percentile(opens, 50).toFixed(2),
        "new connection p99 ms": +percentile(opens, 99).toFixed(2),
        "sequential ms/request": +(sequentialMs / requests).toFixed(3),
        "50 in flight requests/s": Math.round(requests / (concurrentMs / 1000))
      }
    }).pipe(Effect.scoped)
  })

const run = (name: keyof typeof transports, port: number) =>
  measure(name, port).pipe(
    Effect.provide(transports[name].client),
    Effect.provide(
      RpcServer.layer(Bench).pipe(
        Layer.provide(Bench.toLayer({ Echo: ({ n }) => Effect.succeed(n) })),
        Layer.provide(RpcServer.layerProtocolSocketServer),
        Layer.provide(transports[name].server)
      )
    ),
    Effect.provide(ShardingConfig.layer({ runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)) })),
    Effect.provide(RpcSerialization.layerMsgPack)
  )

const program = Effect.gen(function*() {
  const rows = []
  // Twice each, alternating, so neither transport always runs on a cold process.
  for (const name of ["plain", "tls-psk", "plain", "tls-psk"] as const) {
    rows.push(yield* run(name, yield* Effect.promise(freePort)))
  }
  console.table(rows)
})

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
