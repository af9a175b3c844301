/**
 * The product's runner for tests: the real entities, the real SQL storage and the embedded
 * cluster runtime (no socket), on a database chosen by the test.
 */
import { Layer } from "effect"
import { ActorsLive } from "../../src/actors/index.js"
import { embeddedRunner, shardingSettings } from "../../src/cluster/runner.js"
import type { AppSettings } from "../../src/config.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { configLayer } from "./database.js"

export const runnerLayer = (settings: AppSettings) =>
  ActorsLive.pipe(
    Layer.provideMerge(embeddedRunner(shardingSettings(settings))),
    Layer.provideMerge(DatabaseLive),
    Layer.provideMerge(configLayer(settings))
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
