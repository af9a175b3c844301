/**
 * The stop signals' listeners (src/cluster/drain.ts): the runtime's listener is called once,
 * after the grace, and a signal that comes after the drain's scope has closed is still
 * absorbed while the process exits. Ctrl-C on `npm start` sends SIGINT twice (the
 * terminal's and npm's forwarded copy); the second, without a listener, killed the
 * process by SIGINT and npm exited by that signal instead of 0.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { AppConfig } from "../../src/config/index.js"
import { Drain, DrainOnSigterm } from "../../src/cluster/drain.js"

const stopSignals = ["SIGTERM", "SIGINT"] as const

/** Runs `body` with the process's stop listeners set aside, and puts them back after. */
const withOwnListeners = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => stopSignals.map((signal) => [signal, process.listeners(signal)] as const)),
    () => Effect.sync(() => stopSignals.forEach((signal) => process.removeAllListeners(signal))).pipe(Effect.zipRight(body)),
    (saved) =>
      Effect.sync(() => {
        for (const [signal, listeners] of saved) {
          process.removeAllListeners(signal)
          for (const listener of listeners) process.on(signal, listener as (...args: Array<unknown>) => void)
        }
      })
  )

describe("the drain's signal listeners", () => {
  it.effect("a signal after the stop began is absorbed, even once the drain's scope has closed", () =>
    withOwnListeners(Effect.gen(function*() {
      const calls: Array<string> = []
      // The runtime's listener, as NodeRuntime.runMain installs it: one listener on both signals.
      const runtimeListener = (signal: unknown) => calls.push(String(signal))
      for (const signal of stopSignals) process.on(signal, runtimeListener)
      const config = yield* AppConfig.fromEnv({ HTTP_HOST: "127.0.0.1", DRAIN_GRACE: "0" }).pipe(Effect.orDie)
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(DrainOnSigterm.pipe(Layer.provide(Layer.succeed(AppConfig, config))), scope)
      assert.deepStrictEqual(stopSignals.map((signal) => process.listeners(signal).includes(runtimeListener)), [false, false])

      process.emit("SIGINT")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      assert.strictEqual(calls.length, 1, "the runtime's listener called once, after the grace")

      yield* Scope.close(scope, Exit.void)
      // npm's forwarded copy arrives now: a listener must still be there to take it.
      assert.isAbove(process.listenerCount("SIGINT"), 0)
      process.emit("SIGINT")
      assert.strictEqual(calls.length, 1, "the runtime's listener is not called again")
    })))

  it.effect("a runner stopped without a signal gives the runtime its listeners back", () =>
    withOwnListeners(Effect.gen(function*() {
      const runtimeListener = () => {}
      for (const signal of stopSignals) process.on(signal, runtimeListener)
      const config = yield* AppConfig.fromEnv({ HTTP_HOST: "127.0.0.1" }).pipe(Effect.orDie)
      yield* Effect.scoped(Effect.flatMap(Drain, () => Effect.void).pipe(
        Effect.provide(DrainOnSigterm.pipe(Layer.provide(Layer.succeed(AppConfig, config))))
      ))
      assert.deepStrictEqual(stopSignals.map((signal) => process.listeners(signal)), [[runtimeListener], [runtimeListener]])
    })))
})
