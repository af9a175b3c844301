/**
 * The product's runner for tests: the real entities, the real SQL storage and the embedded
 * cluster runtime (no socket), on a database chosen by the test.
 */
import { Effect, Layer, Option, TestClock } from "effect"
import { StorageServicesLive } from "../../src/entities.js"
import { JobEntity } from "../../src/protocols/job-protocol.js"
import { UserEntityLive } from "../../src/users/user-entity.js"
import { embeddedRunner, ownedShardCount, SHARDS_PER_GROUP, shardingSettings } from "../../src/cluster/runner.js"
import type { AppSettings } from "../../src/config/index.js"
import { JobStarts } from "../../src/jobs/job-starts.js"
import { TransferPermits } from "../../src/jobs/transfer-permits.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { configLayer } from "./database.js"
import { promptTestClock } from "./prompt-test-clock.js"

/** Real time, for I/O in flight (HTTP to the simulators, SQL) while TestClock stands still. */
export const realPause = (millis = 25) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** The runner around the given entity layers. */
export const runnerLayer = <A, E, R>(settings: AppSettings, actors: Layer.Layer<A, E, R>) =>
  releasedWithTicks(actors.pipe(
    Layer.provideMerge(embeddedRunner(shardingSettings(settings))),
    Layer.provideMerge(DatabaseLive),
    Layer.provideMerge(TransferPermits.Default),
    Layer.provideMerge(configLayer(settings))
  ))

/**
 * On the TestClock a runner's release can wait for the clock: the cluster gives a running
 * handler ENTITY_TERMINATION_TIMEOUT to finish, and the handler may itself be asleep (a job
 * whose last edit waits for its chat's one message a second). Once the test's body is done
 * nobody moves the clock, so without this the release waits for ever. The layer's release
 * ticks the clock until it is over; a live clock needs nothing.
 */
const releasedWithTicks = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.scopedContext(Effect.gen(function*() {
    const clock = yield* Effect.clock
    if (!("adjust" in clock)) return yield* Layer.build(layer)
    let releasing = false
    // Scope finalizers run last-added first: this one, added before the layer's, stops the
    // ticks after the layer is released; the one added after the layer starts them before.
    // (Not an interruption: TestClock.adjust does not give way to one while it settles.)
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      releasing = false
    }))
    const context = yield* Layer.build(layer)
    const tick = Effect.zipRight(realPause(10), TestClock.adjust("200 millis"))
    yield* Effect.addFinalizer(() => {
      releasing = true
      return Effect.forkDaemon(Effect.whileLoop({ while: () => releasing, body: () => tick, step: () => {} }))
    })
    return context
  }))

/**
 * Past the runner's start-up on the TestClock: its shard acquisition retries on the clock,
 * so a single tick races it (on a loaded machine the first attempt may not be done yet, and
 * the test then waits for ever on a clock nobody moves). Ticks until every shard is held.
 */
export const pastStartUp = Effect.gen(function*() {
  yield* promptTestClock
  yield* TestClock.adjust(1)
  for (let attempt = 0; attempt < 600; attempt++) {
    if ((yield* ownedShardCount) === SHARDS_PER_GROUP) return
    yield* realPause(10)
    yield* TestClock.adjust(50)
  }
  return yield* Effect.dieMessage("the test runner never took its shards")
})

/** A job entity that acknowledges and does nothing: for testing the ledger on its own. */
export const IdleJobEntity = JobEntity.toLayer(Effect.succeed(JobEntity.of({
  KieCallback: () => Effect.void,
  Cancel: () => Effect.succeed("too-late" as const),
  GetState: () => Effect.succeed(Option.none()),
  Wake: () => Effect.void
})))

export const LedgerOnlyActors = Layer.mergeAll(UserEntityLive, IdleJobEntity).pipe(
  Layer.provideMerge(JobStarts.wakeOnly),
  Layer.provideMerge(StorageServicesLive)
)

/** A small seeded generator (mulberry32) so random test sequences repeat exactly. */
export const seededRandom = (seed: number) => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!
  }
}
