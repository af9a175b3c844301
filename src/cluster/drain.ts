/**
 * Graceful stop on SIGTERM (or SIGINT), in two phases:
 *
 * 1. Drain: `/readyz` answers 503 (`draining: true`) for DRAIN_GRACE while the runner still
 *    serves, so a load balancer stops sending traffic before anything closes.
 * 2. Stop: the runtime's own SIGTERM handling runs (the program's scope closes): the HTTP
 *    server closes, the cluster unregisters the runner, stops its singletons, waits up to
 *    ENTITY_TERMINATION_TIMEOUT for running handlers (jobs checkpoint their steps in SQL
 *    and resume from there on the runner that takes their shard), releases the shard locks
 *    and the process exits 0.
 *
 * The runtime (`NodeRuntime.runMain`) installs its SIGTERM and SIGINT listener before the
 * program is built; this layer takes those listeners and calls them once the grace has
 * passed. A second signal during the grace stops at once; later ones are absorbed while
 * the runner stops, until the process exits. Ctrl-C on `npm start` delivers SIGINT twice (the terminal's, and npm's
 * forwarded copy): without a listener left, the second would kill the process mid-stop.
 */
import { Context, Effect, Layer, Option } from "effect"
import { AppConfig } from "../config/index.js"

export interface DrainState {
  /** When SIGTERM arrived, if it has. */
  readonly since: () => Option.Option<Date>
}

export class Drain extends Context.Tag("app/cluster/Drain")<Drain, DrainState>() {
  /** No signal handling: for tests that build the runner in-process. */
  static readonly none = Layer.succeed(Drain, { since: () => Option.none() })
}

type Listener = (...args: Array<unknown>) => void

const stopSignals = ["SIGTERM", "SIGINT"] as const

export const DrainOnSigterm = Layer.scoped(
  Drain,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const graceMs = Option.getOrElse(config.cluster.drainGraceMs, () => config.database._tag === "Postgres" ? 1_000 : 0)
    let since: Option.Option<Date> = Option.none()
    let timer: ReturnType<typeof setTimeout> | undefined
    let deferred: ReadonlyArray<readonly [NodeJS.Signals, Listener]> = []

    const stop = () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      const listeners = deferred
      deferred = []
      // The runtime's one listener is on both signals: it is called once.
      const called = new Set<Listener>()
      for (const [signal, listener] of listeners) {
        if (!called.has(listener)) listener(signal)
        called.add(listener)
      }
    }

    const onSignal = (signal: NodeJS.Signals) => {
      if (Option.isSome(since)) return stop()
      since = Option.some(new Date())
      console.log(`${signal}: draining for ${graceMs} ms (/readyz answers 503), then handing shards over`)
      timer = setTimeout(stop, graceMs)
    }

    // Node calls the listeners present when a signal is emitted, so the runtime's are taken
    // out now, not when the signal arrives.
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        deferred = stopSignals.flatMap((signal) =>
          (process.listeners(signal) as Array<Listener>).map((listener) => [signal, listener] as const)
        )
        for (const [signal, listener] of deferred) process.removeListener(signal, listener)
        for (const signal of stopSignals) process.on(signal, onSignal)
      }),
      () =>
        Effect.sync(() => {
          if (timer !== undefined) clearTimeout(timer)
          // Stopping on a signal: the listener stays to absorb the ones still on their way
          // (npm's forwarded copy can come after this scope closed, before the process
          // exits; with no listener it would kill the process by SIGINT).
          if (Option.isSome(since)) return
          // Stopped for another reason: the runtime's listeners go back.
          for (const signal of stopSignals) process.removeListener(signal, onSignal)
          for (const [signal, listener] of deferred) process.on(signal, listener)
        })
    )
    return { since: () => since }
  })
)
