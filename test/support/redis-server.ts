/**
 * A private `redis-server` for tests that take Redis away: started on a free loopback port
 * with no persistence, killed and started again on the same port by the test, and stopped
 * when the test's scope closes.
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { Redis } from "ioredis"
import { freePort, waitFor } from "../../src/sim/runner-process.js"

export interface PrivateRedis {
  readonly url: string
  readonly port: number
  /** SIGKILL: the server is gone at once, as in a crash. */
  readonly kill: Effect.Effect<void>
  /** A fresh, empty server on the same port (nothing was persisted). */
  readonly restart: Effect.Effect<void>
  /** SIGSTOP / SIGCONT: connections stay open and nothing answers, as in a partition. */
  readonly pause: Effect.Effect<void>
  readonly resume: Effect.Effect<void>
  /** A client for the test's own reads; closed with the scope. */
  readonly client: Redis
}

const spawnServer = (port: number) =>
  spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore"
  })

const ping = (port: number) => async () => {
  const probe = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on("error", () => {})
  try {
    await probe.connect()
    return (await probe.ping()) === "PONG"
  } finally {
    probe.disconnect()
  }
}

const startOn = (port: number) =>
  Effect.promise(async () => {
    const child = spawnServer(port)
    if (!(await waitFor(ping(port), 10_000))) throw new Error(`redis-server did not start on port ${port}`)
    return child
  })

const stop = (child: ChildProcess) =>
  Effect.promise(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, "exit")
    child.kill("SIGKILL")
    await exited
  })

export const privateRedis: Effect.Effect<PrivateRedis, never, Scope.Scope> = Effect.gen(function*() {
  const port = yield* Effect.promise(freePort)
  let child = yield* startOn(port)
  yield* Effect.addFinalizer(() => Effect.suspend(() => stop(child)))
  const client = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const redis = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, retryStrategy: () => 100 })
      redis.on("error", () => {})
      return redis
    }),
    (redis) => Effect.sync(() => redis.disconnect())
  )
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    client,
    kill: Effect.suspend(() => stop(child)),
    pause: Effect.sync(() => void child.kill("SIGSTOP")),
    resume: Effect.sync(() => void child.kill("SIGCONT")),
    restart: Effect.gen(function*() {
      yield* stop(child)
      child = yield* startOn(port)
    })
  }
})
