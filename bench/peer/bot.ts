/**
 * The peer's bot process: long-polls getUpdates, and for each photo reserves a credit and
 * records the job in one transaction, enqueues it on BullMQ and answers the user. The
 * offset moves on only after the batch is handled, so a crash replays the batch and the
 * unique update_id makes the replay harmless. With PEER_CALLBACK_URL set it also serves
 * KIE's callbacks and turns each into a delivery job.
 */
import { Queue } from "bullmq"
import { createServer } from "node:http"
import { pool, QUEUES, redis, reportLoopDelay, schema, settings, telegram, tx } from "./common.js"

const s = settings()
const db = pool(s, 10)
const connection = redis(s)
const tg = telegram(s, connection)
const submit = new Queue(QUEUES.submit, { connection, prefix: s.prefix })
const deliver = new Queue(QUEUES.deliver, { connection, prefix: s.prefix })
const removeOnComplete = { age: 3600, count: 20_000 }

interface PhotoUpdate {
  update_id: number
  message?: { message_id: number; chat: { id: number }; from?: { id: number }; caption?: string; photo?: Array<{ file_id: string; width: number; height: number }> }
}

const handle = async (update: PhotoUpdate) => {
  const message = update.message
  const userId = message?.from?.id
  if (message === undefined || userId === undefined || message.photo === undefined) return
  const photo = message.photo.reduce((a, b) => (a.width * a.height >= b.width * b.height ? a : b))
  const job = await tx(db, async (client) => {
    // First contact grants the free tokens, once.
    const fresh = await client.query(
      `INSERT INTO peer_balances (user_id, balance) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`,
      [userId, s.freeTokens]
    )
    if (fresh.rowCount === 1) {
      await client.query(`INSERT INTO peer_ledger (user_id, kind, delta) VALUES ($1, 'grant', $2)`, [userId, s.freeTokens])
    }
    const created = await client.query<{ id: string }>(
      `INSERT INTO peer_jobs (update_id, user_id, chat_id, state, file_id, prompt, created_at_ms)
       VALUES ($1, $2, $3, 'queued', $4, $5, $6) ON CONFLICT (update_id) DO NOTHING RETURNING id`,
      [update.update_id, userId, message.chat.id, photo.file_id, message.caption ?? "", Date.now()]
    )
    const id = created.rows[0]?.id
    if (id === undefined) return undefined // a replayed update
    const reserved = await client.query(`UPDATE peer_balances SET balance = balance - 1 WHERE user_id = $1 AND balance >= 1`, [userId])
    if (reserved.rowCount !== 1) {
      await client.query(`UPDATE peer_jobs SET state = 'failed', error = 'no credits' WHERE id = $1`, [id])
      return undefined
    }
    await client.query(`INSERT INTO peer_ledger (user_id, job_id, kind, delta) VALUES ($1, $2, 'reserve', -1)`, [userId, id])
    return id
  })
  if (job === undefined) return
  // The BullMQ job id is the job's id: enqueueing twice adds it once.
  await submit.add("submit", { jobId: job }, { jobId: `job-${job}`, removeOnComplete, attempts: 5, backoff: { type: "exponential", delay: 2_000 } })
  // The acknowledgement is not awaited: under Telegram's 30 messages/s a batch of 100 would
  // otherwise hold the next getUpdates back for 3 s. (Unlike the product, the peer's worker
  // does not make the video wait for it.)
  void acknowledge(job, message.chat.id).catch((error) => console.error("acknowledgement failed", error))
}

const acknowledge = async (job: string, chatId: number) => {
  const status = await tg.send(() => tg.api.sendMessage(chatId, "🎬 Got it! Your video is being generated…"))
  await db.query(`UPDATE peer_jobs SET status_message_id = $2 WHERE id = $1`, [job, status.message_id])
}

const poll = async () => {
  let offset = 0
  for (;;) {
    let updates: Array<PhotoUpdate>
    try {
      updates = (await tg.api.getUpdates({ offset, timeout: 1, limit: 100 })) as Array<PhotoUpdate>
    } catch (error) {
      console.error("getUpdates failed", error)
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      continue
    }
    // The batch is handled concurrently (each update is a different user here; a real bot
    // would serialise per chat), then the offset moves past it.
    const results = await Promise.allSettled(updates.map(handle))
    for (const result of results) if (result.status === "rejected") console.error("update failed", result.reason)
    if (updates.length > 0) offset = updates[updates.length - 1]!.update_id + 1
  }
}

const serveCallbacks = () => {
  const port = Number(process.env.PEER_CALLBACK_PORT)
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      void (async () => {
        const jobId = url.searchParams.get("job")
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { code: number; data: { state: string; resultJson: string } }
          if (jobId !== null && body.code === 200 && body.data.state === "success") {
            const resultUrl = (JSON.parse(body.data.resultJson) as { resultUrls: Array<string> }).resultUrls[0]
            await db.query(
              `UPDATE peer_jobs SET state = 'delivering', kie_succeeded_at_ms = $2, result_url = $3 WHERE id = $1 AND state = 'polling'`,
              [jobId, Date.now(), resultUrl]
            )
            await deliver.add("deliver", { jobId }, { jobId: `deliver-${jobId}`, removeOnComplete, attempts: 5, backoff: { type: "exponential", delay: 2_000 } })
          } else if (jobId !== null) {
            await deliver.add("deliver", { jobId, failed: true }, { jobId: `deliver-${jobId}`, removeOnComplete })
          }
          res.writeHead(200).end("ok")
        } catch (error) {
          console.error("callback failed", error)
          res.writeHead(500).end()
        }
      })()
    })
  })
  server.listen(port, "127.0.0.1")
}

await db.query(schema)
reportLoopDelay("bot")
if (s.callbackBaseUrl !== "") serveCallbacks()
process.stdout.write(`${JSON.stringify({ peerReady: "bot" })}\n`)
process.on("SIGTERM", () => process.exit(0))
await poll()
