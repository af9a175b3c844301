/**
 * The BullMQ peer: the original architecture rebuilt as a baseline for the benchmarks.
 * A bot process takes updates by long polling and enqueues one BullMQ job per photo;
 * worker processes submit to KIE, poll (or take KIE's callback through the bot process),
 * deliver the video and settle the credit. It is what a Node developer would write with
 * BullMQ: queues on Redis, a Postgres ledger, BullMQ's rate limiter for KIE, delayed
 * re-queues for polling, retries with backoff. It lives in bench/ only.
 *
 * Shared here: settings from the environment, the schema, the ledger transactions and
 * the two HTTP clients (grammY's Api for Telegram, fetch for KIE).
 */
import { Api, GrammyError, InputFile } from "grammy"
import { Redis } from "ioredis"
import { monitorEventLoopDelay } from "node:perf_hooks"
import pg from "pg"

export const env = (name: string) => {
  const value = process.env[name]
  if (value === undefined || value === "") throw new Error(`peer: ${name} is not set`)
  return value
}

export const settings = () => ({
  databaseUrl: env("DATABASE_URL"),
  redisUrl: env("REDIS_URL"),
  prefix: env("PEER_PREFIX"),
  telegramToken: env("TELEGRAM_BOT_TOKEN"),
  telegramApiRoot: env("TELEGRAM_API_ROOT"),
  telegramPerSecond: Number(env("TELEGRAM_PER_SECOND")),
  kieKey: env("KIE_API_KEY"),
  kieBaseUrl: env("KIE_BASE_URL"),
  kieLimitPer10s: Number(env("KIE_RATE_LIMIT")),
  callbackBaseUrl: process.env.PEER_CALLBACK_URL ?? "",
  freeTokens: Number(process.env.FREE_TOKENS ?? "2")
})
export type Settings = ReturnType<typeof settings>

export const QUEUES = { submit: "submit", poll: "poll", deliver: "deliver" } as const

export const schema = `
CREATE TABLE IF NOT EXISTS peer_balances (user_id BIGINT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0));
CREATE TABLE IF NOT EXISTS peer_ledger (
  id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL, job_id BIGINT, kind TEXT NOT NULL, delta INTEGER NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(), UNIQUE (job_id, kind));
CREATE TABLE IF NOT EXISTS peer_jobs (
  id BIGSERIAL PRIMARY KEY, update_id BIGINT UNIQUE NOT NULL, user_id BIGINT NOT NULL, chat_id BIGINT NOT NULL,
  state TEXT NOT NULL, file_id TEXT NOT NULL, prompt TEXT NOT NULL, status_message_id BIGINT, kie_task_id TEXT,
  result_url TEXT, error TEXT, created_at_ms BIGINT NOT NULL, submitted_at_ms BIGINT, kie_succeeded_at_ms BIGINT,
  delivered_at_ms BIGINT);
CREATE INDEX IF NOT EXISTS peer_jobs_state ON peer_jobs (state);
`

export const pool = (s: Settings, max: number) => {
  const db = new pg.Pool({ connectionString: s.databaseUrl, max })
  db.on("error", (error) => console.error(`peer database: ${error.message}`))
  return db
}

export const tx = async <A>(db: pg.Pool, body: (client: pg.PoolClient) => Promise<A>): Promise<A> => {
  const client = await db.connect()
  try {
    await client.query("BEGIN")
    const result = await body(client)
    await client.query("COMMIT")
    return result
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined)
    throw error
  } finally {
    client.release()
  }
}

/** Capture after delivery or refund after failure, once per job (the unique key makes a repeat a no-op). */
export const settle = (db: pg.Pool, jobId: string, kind: "capture" | "refund", state: string, fields: Record<string, unknown> = {}) =>
  tx(db, async (client) => {
    const job = (await client.query<{ user_id: string }>(`SELECT user_id FROM peer_jobs WHERE id = $1 FOR UPDATE`, [jobId])).rows[0]
    if (job === undefined) return
    const inserted = await client.query(
      `INSERT INTO peer_ledger (user_id, job_id, kind, delta) VALUES ($1, $2, $3, $4) ON CONFLICT (job_id, kind) DO NOTHING`,
      [job.user_id, jobId, kind, kind === "refund" ? 1 : 0]
    )
    if (inserted.rowCount === 1 && kind === "refund") {
      await client.query(`UPDATE peer_balances SET balance = balance + 1 WHERE user_id = $1`, [job.user_id])
    }
    const names = Object.keys(fields)
    await client.query(
      `UPDATE peer_jobs SET state = $2${names.map((n, i) => `, ${n} = $${i + 3}`).join("")} WHERE id = $1`,
      [jobId, state, ...names.map((n) => fields[n])]
    )
  })

export const redis = (s: Settings) => new Redis(s.redisUrl, { maxRetriesPerRequest: null })

/**
 * Telegram's ~30 messages/s across the bot, shared by all peer processes through Redis
 * (a fixed one-second window), plus waiting out a 429's retry_after: what a BullMQ
 * deployment needs so as not to be throttled by Telegram.
 */
export const telegram = (s: Settings, connection: Redis) => {
  const api = new Api(s.telegramToken, { apiRoot: s.telegramApiRoot })
  const slot = async () => {
    for (;;) {
      const second = Math.floor(Date.now() / 1000)
      const key = `${s.prefix}:tg:${second}`
      const n = await connection.incr(key)
      if (n === 1) await connection.expire(key, 5)
      if (n <= s.telegramPerSecond) return
      await sleep(1000 - (Date.now() % 1000) + Math.random() * 50)
    }
  }
  const send = async <A>(call: () => Promise<A>): Promise<A> => {
    for (let attempt = 0;; attempt++) {
      await slot()
      try {
        return await call()
      } catch (error) {
        const retryAfter = error instanceof GrammyError ? error.parameters.retry_after : undefined
        if (retryAfter === undefined || attempt >= 5) throw error
        await sleep(retryAfter * 1000)
      }
    }
  }
  return { api, send, InputFile }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** KIE over fetch: named User-Agent (KIE's CDN refuses anonymous clients), Bearer key, envelope codes. */
export const kie = (s: Settings) => {
  const headers = { authorization: `Bearer ${s.kieKey}`, "user-agent": "peer-bullmq/1.0" }
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${s.kieBaseUrl}${path}`, {
      ...init,
      headers: { ...headers, ...(init.headers as Record<string, string> | undefined) },
      signal: AbortSignal.timeout(30_000)
    })
    const body = (await response.json()) as { code: number; msg?: string; data: any }
    return body
  }
  return {
    upload: async (bytes: Uint8Array, fileName: string) => {
      const form = new FormData()
      form.set("file", new Blob([bytes], { type: "image/jpeg" }), fileName)
      form.set("uploadPath", "peer")
      form.set("fileName", fileName)
      const body = await call("/api/file-stream-upload", { method: "POST", body: form })
      if (body.code !== 200) throw new Error(`KIE upload ${body.code} ${body.msg}`)
      return String(body.data.downloadUrl ?? body.data.fileUrl)
    },
    createTask: (imageUrl: string, prompt: string, callBackUrl: string | undefined) =>
      call("/api/v1/jobs/createTask", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "kling-2.6/image-to-video",
          input: { prompt, image_urls: [imageUrl], sound: false, duration: "5" },
          ...(callBackUrl === undefined ? {} : { callBackUrl })
        })
      }),
    recordInfo: (taskId: string) => call(`/api/v1/jobs/recordInfo?taskId=${encodeURIComponent(taskId)}`)
  }
}

/** Prints this process's event-loop delay p99 (ms) each second, for the harness to read. */
export const reportLoopDelay = (role: string) => {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  setInterval(() => {
    const p99 = histogram.count > 0 ? histogram.percentile(99) / 1e6 : 0
    histogram.reset()
    process.stdout.write(`${JSON.stringify({ peerLoop: role, p99 })}\n`)
  }, 1_000).unref()
}

/** The polling cadence of the product (5 s growing ×1.5 to 30 s), so both poll alike. */
export const pollDelay = (poll: number) => Math.min(30_000, 5_000 * 1.5 ** poll)
