/**
 * The runners' transport, authenticated: the cluster's msgpack RPC between runners runs
 * inside TLS 1.3 with an external pre-shared key derived from CLUSTER_SECRET, and no
 * certificates. A peer that does not hold the secret fails the handshake inside Node's TLS
 * layer, so not one byte it sends reaches the cluster's RPC server; the client side
 * likewise refuses a server without the secret. The whole connection is encrypted and
 * integrity-protected, not only its start. Why this design: docs/operations.md, Security.
 *
 * These are the two pieces `SocketRunner` takes from `NodeClusterSocket`, swapped:
 * `SocketServer` (where other runners connect) and `Runners.RpcClientProtocol` (how this
 * runner connects to others, for messages and for health pings alike).
 */
import { Runners, ShardingConfig } from "@effect/cluster"
import { Socket, SocketServer } from "@effect/platform"
import { NodeSocket } from "@effect/platform-node"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { Deferred, Effect, Exit, FiberSet, Layer, Metric, Option, Redacted, Runtime, Scope } from "effect"
import { hkdfSync } from "node:crypto"
import type { AddressInfo } from "node:net"
import * as Tls from "node:tls"

/** Sent in the clear in the ClientHello; names the key, not a secret. */
const PSK_IDENTITY = "photo-video-bot/runner/v1"

// TLS 1.3 only: its PSK mode is psk_dhe_ke (an ECDHE exchange on top of the key, so a
// secret that leaks later does not decrypt recorded traffic), and a wrong key is refused
// at the ClientHello's binder. Node disables the TLS 1.2 PSK suites anyway.
const TLS_VERSION = { minVersion: "TLSv1.3", maxVersion: "TLSv1.3" } as const

/** How long a peer may take to finish its handshake before the server drops it. */
const SERVER_HANDSHAKE_TIMEOUT_MS = 5_000
/**
 * How long this runner waits for TCP connect plus handshake to another runner. Upstream
 * allows 1 s for the connect alone; a dead peer's health ping must still fail quickly.
 */
const CLIENT_OPEN_TIMEOUT_MS = 2_000

/** 32-byte key for the handshake; the secret itself never goes on the wire. */
export const derivePsk = (secret: Redacted.Redacted<string>): Buffer =>
  Buffer.from(hkdfSync("sha256", Redacted.value(secret), "photo-video-bot/cluster", "runner-transport-psk/v1", 32))

/** OpenSSL's own verdicts (wrong key, not TLS at all) and a peer that never finished. */
const isHandshakeRefusal = (error: Error & { readonly code?: string }) =>
  error.code !== undefined && (error.code.startsWith("ERR_SSL_") || error.code === "ERR_TLS_HANDSHAKE_TIMEOUT")

export const runnerConnectionsRefused = Metric.counter("runner_connections_refused_total", {
  description: "connections to RUNNER_PORT refused in the TLS handshake (no or wrong CLUSTER_SECRET, or not TLS)",
  incremental: true
})

/**
 * A `SocketServer` on a TLS-PSK listener: `NodeSocketServer.make` of @effect/platform-node,
 * on `tls.createServer` instead of `net.createServer` (which it hard-codes). Connections
 * reach the handler only after a successful handshake.
 */
export const makeTlsPskSocketServer = Effect.fnUntraced(function*(
  listen: { readonly host: string; readonly port: number },
  psk: Buffer
) {
  const runtime = yield* Effect.runtime<never>()
  const errorDeferred = yield* Deferred.make<never, Error>()
  const pending: Array<Tls.TLSSocket> = []
  const queue = (conn: Tls.TLSSocket) => void pending.push(conn)
  let onConnection: (conn: Tls.TLSSocket) => void = queue

  const server = Tls.createServer({
    ...TLS_VERSION,
    handshakeTimeout: SERVER_HANDSHAKE_TIMEOUT_MS,
    pskCallback: (_socket, identity) => (identity === PSK_IDENTITY ? psk : null)
  }, (conn) => onConnection(conn))
  server.on("tlsClientError", (error: Error & { code?: string }, socket) => {
    const annotations = { peer: `${socket.remoteAddress}:${socket.remotePort}`, reason: error.code ?? error.message }
    // A peer that hangs up mid-handshake (a port scan, a runner stopping) is no attempt to get in.
    const refused = isHandshakeRefusal(error)
      ? Effect.logWarning(
        "runner port: refused a connection that failed the TLS handshake (no CLUSTER_SECRET, or a different one)"
      ).pipe(Effect.zipRight(Metric.increment(runnerConnectionsRefused)))
      : Effect.logDebug("runner port: a connection ended during the TLS handshake")
    Runtime.runFork(runtime)(Effect.annotateLogs(refused, annotations))
  })
  server.on("error", (cause) => Deferred.unsafeDone(errorDeferred, Exit.fail(cause)))
  yield* Effect.addFinalizer(() => Effect.async<void>((resume) => void server.close(() => resume(Effect.void))))
  yield* Effect.async<void>((resume) => void server.listen(listen.port, listen.host, () => resume(Effect.void))).pipe(
    Effect.raceFirst(Effect.mapError(
      Deferred.await(errorDeferred),
      (cause) => new SocketServer.SocketServerError({ reason: "Open", cause })
    ))
  )

  const run = Effect.fnUntraced(function*<R, E, _>(handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>) {
    const scope = yield* Scope.make()
    const fiberSet = yield* FiberSet.make().pipe(Scope.extend(scope))
    const runFork = yield* FiberSet.runtime(fiberSet)<R>()
    const handle = (conn: Tls.TLSSocket) => {
      let error: Error | undefined
      conn.on("error", (cause) => (error = cause))
      const open = Effect.acquireRelease(
        Effect.suspend((): Effect.Effect<Tls.TLSSocket, Socket.SocketError> =>
          error !== undefined
            ? Effect.fail(new Socket.SocketGenericError({ reason: "Open", cause: error }))
            : conn.closed
            ? Effect.fail(new Socket.SocketCloseError({ reason: "Close", code: 1000 }))
            : Effect.succeed(conn)
        ),
        (conn) => Effect.sync(() => conn.closed || conn.destroySoon())
      )
      runFork(NodeSocket.fromDuplex(open).pipe(
        Effect.flatMap(handler),
        // A peer hanging up is the normal end of a connection.
        Effect.catchAllCause((cause) => Effect.logDebug("runner port: connection ended", cause))
      ))
    }
    return yield* Effect.async<never>(() => {
      onConnection = handle
      pending.splice(0).forEach(handle)
      return Effect.suspend(() => {
        onConnection = queue
        return Scope.close(scope, Exit.void)
      })
    }).pipe(Effect.raceFirst(Effect.mapError(
      Deferred.await(errorDeferred),
      (cause) => new SocketServer.SocketServerError({ reason: "Unknown", cause })
    )))
  })

  const address = server.address() as AddressInfo
  return SocketServer.SocketServer.of({
    address: { _tag: "TcpAddress", hostname: address.address, port: address.port },
    run
  })
})

/** Listens where `NodeClusterSocket.layerSocketServer` would: runnerListenAddress, else runnerAddress. */
export const layerSocketServer = (secret: Redacted.Redacted<string>) =>
  Layer.scoped(
    SocketServer.SocketServer,
    Effect.gen(function*() {
      const config = yield* ShardingConfig.ShardingConfig
      const listen = Option.orElse(config.runnerListenAddress, () => config.runnerAddress)
      if (Option.isNone(listen)) return yield* Effect.die("runner transport: no runner address to listen on")
      return yield* makeTlsPskSocketServer(listen.value, derivePsk(secret))
    })
  )

const connectWithKey = (address: { readonly host: string; readonly port: number }, psk: Buffer) =>
  Tls.connect({
    ...TLS_VERSION,
    host: address.host,
    port: address.port,
    pskCallback: () => ({ psk, identity: PSK_IDENTITY }),
    // There is no certificate: the key authenticates the server.
    checkServerIdentity: () => undefined
  })

/** A socket whose every (re)open is a TCP connect plus the PSK handshake. */
export const tlsPskSocket = (address: { readonly host: string; readonly port: number }, psk: Buffer) =>
  NodeSocket.fromDuplex(
    Effect.scopeWith((scope) => {
      let conn: Tls.TLSSocket | undefined
      return Scope.addFinalizer(scope, Effect.sync(() => conn === undefined || conn.closed || conn.destroySoon())).pipe(
        Effect.zipRight(Effect.async<Tls.TLSSocket, Socket.SocketError>((resume) => {
          conn = connectWithKey(address, psk)
          conn.once("secureConnect", () => resume(Effect.succeed(conn!)))
          conn.on("error", (cause) => resume(Effect.fail(new Socket.SocketGenericError({ reason: "Open", cause }))))
        }))
      )
    }),
    { openTimeout: CLIENT_OPEN_TIMEOUT_MS }
  )

export type HandshakeOutcome = "accepted" | "refused" | "unreachable"

/**
 * Whether the runner at `address` completes a handshake with this secret's key: "refused"
 * when it answers TLS but not with this key, "unreachable" when nothing answers in time.
 */
export const handshakeWith = (
  address: { readonly host: string; readonly port: number },
  secret: Redacted.Redacted<string>
): Effect.Effect<HandshakeOutcome> => {
  const psk = derivePsk(secret)
  return Effect.async<HandshakeOutcome>((resume) => {
    const conn = connectWithKey(address, psk)
    conn.once("secureConnect", () => {
      conn.end()
      resume(Effect.succeed("accepted"))
    })
    conn.on("error", (error) => {
      conn.destroy()
      resume(Effect.succeed(isHandshakeRefusal(error) ? "refused" : "unreachable"))
    })
    return Effect.sync(() => conn.destroy())
  }).pipe(Effect.timeoutTo({
    duration: CLIENT_OPEN_TIMEOUT_MS,
    onSuccess: (outcome) => outcome,
    onTimeout: (): HandshakeOutcome => "unreachable"
  }))
}

/** `NodeClusterSocket.layerClientProtocol` over TLS-PSK. */
export const layerClientProtocol = (secret: Redacted.Redacted<string>) =>
  Layer.effect(
    Runners.RpcClientProtocol,
    Effect.gen(function*() {
      const serialization = yield* RpcSerialization.RpcSerialization
      const psk = derivePsk(secret)
      return (address) =>
        Effect.flatMap(tlsPskSocket(address, psk), (socket) =>
          RpcClient.makeProtocolSocket().pipe(
            Effect.provideService(Socket.Socket, socket),
            Effect.provideService(RpcSerialization.RpcSerialization, serialization)
          ))
    })
  )
