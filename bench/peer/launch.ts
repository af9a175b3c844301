/**
 * Starts the BullMQ peer for one benchmark run: the bot process and one worker process per
 * core, on their own Redis key prefix (removed afterwards) and the run's database.
 */
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import { cpus } from "node:os"
import { type Child, freePort, REDIS_URL, type Simulators, spawnNode, waitFor } from "../support.js"
import { QUEUES } from "./common.js"

export interface PeerOptions {
  readonly sims: Simulators
  readonly databaseUrl: string
  readonly kieLimitPer10s: number
  readonly telegramPerSecond: number
  readonly callbacks: boolean
  readonly freeTokens: number
  readonly workers?: number
}

export const startPeer = async (options: PeerOptions) => {
  const prefix = `peer-bench-${process.pid}-${Date.now()}`
  const callbackPort = await freePort()
  const env = {
    DATABASE_URL: options.databaseUrl,
    REDIS_URL,
    PEER_PREFIX: prefix,
    TELEGRAM_BOT_TOKEN: options.sims.telegram.token,
    TELEGRAM_API_ROOT: options.sims.telegram.url,
    TELEGRAM_PER_SECOND: String(options.telegramPerSecond),
    KIE_API_KEY: options.sims.kie.apiKey,
    KIE_BASE_URL: options.sims.kie.url,
    KIE_RATE_LIMIT: String(options.kieLimitPer10s),
    FREE_TOKENS: String(options.freeTokens),
    PEER_CALLBACK_PORT: String(callbackPort),
    ...(options.callbacks ? { PEER_CALLBACK_URL: `http://127.0.0.1:${callbackPort}` } : {})
  }
  const loop = new Map<string, number>()
  const ready = new Set<Child>()
  const watch = (child: Child) =>
    child.onLine((line) => {
      if (!line.startsWith("{\"peer")) return
      try {
        const message = JSON.parse(line) as { peerLoop?: string; p99?: number; peerReady?: string }
        if (message.peerLoop !== undefined) loop.set(message.peerLoop, message.p99 ?? 0)
        if (message.peerReady !== undefined) ready.add(child)
      } catch {
        // not one of ours
      }
    })
  const children: Array<Child> = []
  const bot = spawnNode("peer-bot", ["--import", "tsx", "bench/peer/bot.ts"], env)
  watch(bot)
  children.push(bot)
  // The bot creates the schema; the workers start once it is there.
  if (!(await waitFor(() => ready.has(bot), 60_000, 100))) throw new Error(`peer bot never started:\n${bot.tail()}`)
  for (let i = 0; i < (options.workers ?? cpus().length); i++) {
    const worker = spawnNode(`peer-worker-${i}`, ["--import", "tsx", "bench/peer/worker.ts"], env)
    watch(worker)
    children.push(worker)
  }
  if (!(await waitFor(() => children.every((c) => ready.has(c)), 60_000, 100))) {
    throw new Error(`peer workers never started:\n${children.map((c) => c.tail()).join("\n")}`)
  }
  return {
    pids: () => children.map((c) => c.pid),
    /** The worst process's event-loop delay p99 over the last second. */
    loopDelayP99Ms: () => Math.max(0, ...loop.values()),
    tail: () => children.map((c) => `--- ${c.name}\n${c.tail().slice(-1500)}`).join("\n"),
    stop: async () => {
      await Promise.all(children.map((c) => c.kill("SIGTERM")))
      const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
      for (const name of Object.values(QUEUES)) {
        const queue = new Queue(name, { connection, prefix })
        await queue.obliterate({ force: true }).catch(() => undefined)
        await queue.close()
      }
      const keys = await connection.keys(`${prefix}:*`)
      if (keys.length > 0) await connection.del(...keys)
      connection.disconnect()
    }
  }
}
