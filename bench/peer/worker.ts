/**
 * A peer worker process: three BullMQ workers on the bot's queues.
 * - submit: getFile + download from Telegram, upload to KIE, createTask (BullMQ's limiter
 *   holds KIE's createTask limit across all workers; a 429 that still gets through puts the
 *   queue to sleep for KIE's window, the documented BullMQ way).
 * - poll: recordInfo; not finished → the job moves itself back to delayed with the same
 *   backing-off cadence as the product (with callbacks on, a slow safety net instead).
 * - deliver: download the result, sendVideo, then capture (or refund) in one transaction.
 */
import { DelayedError, type Job, Queue, Worker } from "bullmq"
import { kie as kieClient, pollDelay, pool, QUEUES, redis, reportLoopDelay, settings, settle, telegram } from "./common.js"

const s = settings()
const concurrency = {
  submit: Number(process.env.PEER_SUBMIT_CONCURRENCY ?? "50"),
  poll: Number(process.env.PEER_POLL_CONCURRENCY ?? "200"),
  deliver: Number(process.env.PEER_DELIVER_CONCURRENCY ?? "50")
}
const db = pool(s, 20)
const connection = redis(s)
const tg = telegram(s, connection)
const kie = kieClient(s)
const pollQueue = new Queue(QUEUES.poll, { connection, prefix: s.prefix })
const deliverQueue = new Queue(QUEUES.deliver, { connection, prefix: s.prefix })
const removeOnComplete = { age: 3600, count: 20_000 }
const retried = { attempts: 5, backoff: { type: "exponential", delay: 2_000 }, removeOnComplete }
/** With callbacks, polling is only the net for a lost callback. */
const safetyNetMs = 60_000

interface JobRow {
  id: string
  chat_id: string
  file_id: string
  prompt: string
  state: string
  kie_task_id: string | null
  result_url: string | null
  status_message_id: string | null
}

const load = async (jobId: string) =>
  (await db.query<JobRow>(`SELECT * FROM peer_jobs WHERE id = $1`, [jobId])).rows[0]

const fail = async (row: JobRow, reason: string) => {
  await settle(db, row.id, "refund", "refunded", { error: reason })
  await tg.send(() => tg.api.sendMessage(Number(row.chat_id), "😔 The video could not be made; your credit is back."))
}

const submitWorker = new Worker(QUEUES.submit, async (job: Job<{ jobId: string }>) => {
  const row = await load(job.data.jobId)
  if (row === undefined || !["queued", "submitting"].includes(row.state)) return
  if (row.kie_task_id !== null) return // already submitted by an earlier attempt
  await db.query(`UPDATE peer_jobs SET state = 'submitting' WHERE id = $1 AND state = 'queued'`, [row.id])
  const file = await tg.api.getFile(row.file_id)
  const photo = await fetch(`${s.telegramApiRoot}/file/bot${s.telegramToken}/${file.file_path}`)
  if (!photo.ok) throw new Error(`photo download ${photo.status}`)
  const imageUrl = await kie.upload(new Uint8Array(await photo.arrayBuffer()), `job-${row.id}.jpg`)
  const callBackUrl = s.callbackBaseUrl === "" ? undefined : `${s.callbackBaseUrl}/kie/callback?job=${row.id}`
  const created = await kie.createTask(imageUrl, row.prompt, callBackUrl)
  if (created.code === 429) {
    // KIE dropped it: pause this queue for KIE's window and retry the job without spending an attempt.
    await submitWorker.rateLimit(10_000)
    throw Worker.RateLimitError()
  }
  if (created.code !== 200) throw new Error(`createTask ${created.code} ${created.msg}`)
  const taskId = String(created.data.taskId)
  await db.query(
    `UPDATE peer_jobs SET kie_task_id = $2, submitted_at_ms = $3,
            state = CASE WHEN state = 'submitting' THEN 'polling' ELSE state END WHERE id = $1`,
    [row.id, taskId, Date.now()]
  )
  await pollQueue.add("poll", { jobId: row.id, poll: 0 }, {
    jobId: `poll-${row.id}`,
    delay: callBackUrl === undefined ? pollDelay(0) : safetyNetMs,
    ...retried
  })
}, {
  connection,
  prefix: s.prefix,
  concurrency: concurrency.submit,
  // KIE's limit per 10 s, as a per-second budget so that no trailing window overshoots much.
  limiter: { max: Math.max(1, Math.floor(s.kieLimitPer10s / 10)), duration: 1_000 }
})

const pollWorker = new Worker(QUEUES.poll, async (job: Job<{ jobId: string; poll: number }>, token?: string) => {
  const row = await load(job.data.jobId)
  if (row === undefined || row.state !== "polling" || row.kie_task_id === null) return
  const info = await kie.recordInfo(row.kie_task_id)
  const state = info.code === 200 ? String(info.data.state) : "unknown"
  if (state === "success") {
    const resultUrl = (JSON.parse(info.data.resultJson) as { resultUrls: Array<string> }).resultUrls[0]
    const moved = await db.query(
      `UPDATE peer_jobs SET state = 'delivering', kie_succeeded_at_ms = $2, result_url = $3 WHERE id = $1 AND state = 'polling'`,
      [row.id, Date.now(), resultUrl]
    )
    if (moved.rowCount === 1) await deliverQueue.add("deliver", { jobId: row.id }, { jobId: `deliver-${row.id}`, ...retried })
    return
  }
  if (state === "fail") return fail(row, String(info.data.failMsg))
  // Not finished: back to the delayed set, the same job, one more poll counted.
  const next = job.data.poll + 1
  await job.updateData({ ...job.data, poll: next })
  await job.moveToDelayed(Date.now() + (s.callbackBaseUrl === "" ? pollDelay(next) : safetyNetMs), token)
  throw new DelayedError()
}, { connection, prefix: s.prefix, concurrency: concurrency.poll })

const deliverWorker = new Worker(QUEUES.deliver, async (job: Job<{ jobId: string; failed?: boolean }>) => {
  const row = await load(job.data.jobId)
  if (row === undefined || ["delivered", "refunded"].includes(row.state)) return
  if (job.data.failed === true) return fail(row, "KIE reported a failure")
  if (row.result_url === null) throw new Error("no result url yet")
  const video = await fetch(row.result_url)
  if (!video.ok) throw new Error(`result download ${video.status}`)
  const bytes = new Uint8Array(await video.arrayBuffer())
  await tg.send(() => tg.api.sendVideo(Number(row.chat_id), new tg.InputFile(bytes, "video.mp4"), { caption: "✨ Here is your video" }))
  await settle(db, row.id, "capture", "delivered", { delivered_at_ms: Date.now() })
}, { connection, prefix: s.prefix, concurrency: concurrency.deliver })

for (const worker of [submitWorker, pollWorker, deliverWorker]) {
  worker.on("failed", (job, error) => {
    if (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1)) {
      console.error(`job ${job.id} gave up: ${error.message}`)
      void load((job.data as { jobId: string }).jobId).then((row) => (row === undefined ? undefined : fail(row, error.message)))
    }
  })
}

reportLoopDelay(`worker-${process.pid}`)
process.stdout.write(`${JSON.stringify({ peerReady: "worker" })}\n`)
process.on("SIGTERM", () => {
  void Promise.all([submitWorker.close(), pollWorker.close(), deliverWorker.close()]).finally(() => process.exit(0))
})
