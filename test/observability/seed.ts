/**
 * A small, hand-counted history over two UTC days, written straight into the tables the
 * analytics views read. The expected figures in the view tests are derived from it by hand.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const DAY1 = "2026-11-20"
export const DAY2 = "2026-11-21"

interface SeedJob {
  readonly id: string
  readonly user: number
  readonly day: string
  readonly time: string
  readonly state: "queued" | "polling" | "delivered" | "refunded" | "failed"
  readonly attempts: number
  readonly cost?: number
  readonly generationMs?: number
  readonly deliveryMs?: number
  readonly errorClass?: string
  readonly errorDetail?: string
  readonly events?: ReadonlyArray<string>
}

const at = (day: string, time: string) => `${day}T${time}Z`
const epoch = (day: string, time: string) => Date.parse(at(day, time))

export const seedUsers: ReadonlyArray<{ id: number; day: string; time: string }> = [
  { id: 1, day: DAY1, time: "08:00:00" },
  { id: 2, day: DAY1, time: "09:00:00" },
  { id: 3, day: DAY1, time: "10:00:00" },
  { id: 4, day: DAY2, time: "07:00:00" },
  { id: 5, day: DAY2, time: "08:00:00" }
]

export const seedJobs: ReadonlyArray<SeedJob> = [
  { id: "j1", user: 1, day: DAY1, time: "10:00:00", state: "delivered", attempts: 1, generationMs: 60_000, deliveryMs: 5_000 },
  {
    id: "j2", user: 2, day: DAY1, time: "11:00:00", state: "refunded", attempts: 1,
    errorClass: "KieTransientError", errorDetail: "RateLimited",
    events: ["KIE createTask: RateLimited, HTTP 200, code 429, \"too many\"", "KieTransientError"]
  },
  { id: "j6", user: 1, day: DAY1, time: "12:00:00", state: "delivered", attempts: 2, generationMs: 120_000, deliveryMs: 10_000 },
  { id: "j7", user: 2, day: DAY1, time: "13:00:00", state: "delivered", attempts: 1, generationMs: 30_000, deliveryMs: 2_000 },
  { id: "j3", user: 2, day: DAY2, time: "09:00:00", state: "delivered", attempts: 1, cost: 2, generationMs: 90_000, deliveryMs: 4_000 },
  {
    id: "j4", user: 4, day: DAY2, time: "10:00:00", state: "refunded", attempts: 1,
    errorClass: "KieUserError", errorDetail: "ContentPolicy", events: ["KieUserError"]
  },
  { id: "j5", user: 4, day: DAY2, time: "11:00:00", state: "polling", attempts: 1 },
  {
    id: "j8", user: 4, day: DAY2, time: "12:00:00", state: "failed", attempts: 1,
    errorClass: "DeliveryFailed", errorDetail: "Forbidden", events: ["failCode x, DeliveryFailed"]
  }
]

export const seedPayments: ReadonlyArray<
  { id: string; user: number; day: string; stars: number; credits: number; state: string }
> = [
  { id: "p1", user: 1, day: DAY1, stars: 250, credits: 5, state: "credited" },
  { id: "p3", user: 1, day: DAY1, stars: 900, credits: 20, state: "credited" },
  { id: "p4", user: 4, day: DAY2, stars: 250, credits: 5, state: "refunded" },
  { id: "p5", user: 5, day: DAY2, stars: 250, credits: 5, state: "received" }
]

/** Writes the seed; timestamps are UTC ISO strings, which both dialects store as given. */
export const seed = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // SQLite compares the text CURRENT_TIMESTAMP writes ('YYYY-MM-DD HH:MM:SS'), so it gets the same shape.
  const stamp = (iso: string) =>
    sql.onDialectOrElse({ pg: () => iso, orElse: () => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") })
  for (const user of seedUsers) {
    yield* sql`INSERT INTO users (id, first_name, created_at) VALUES (${user.id}, ${"u" + user.id}, ${
      stamp(at(user.day, user.time))
    })`
  }
  for (const job of seedJobs) {
    const createdMs = epoch(job.day, job.time)
    const succeededMs = job.generationMs === undefined ? null : createdMs + job.generationMs
    const deliveredAt = succeededMs === null || job.deliveryMs === undefined
      ? null
      : stamp(new Date(succeededMs + job.deliveryMs).toISOString())
    yield* sql`INSERT INTO jobs ${
      sql.insert({
        id: job.id,
        user_id: job.user,
        chat_id: job.user,
        request_key: `rk-${job.id}`,
        state: job.state,
        model: "kling-2.6/image-to-video",
        prompt: "move",
        cost: job.cost ?? 1,
        photo_file_id: `photo-${job.id}`,
        attempts: job.attempts,
        error_class: job.errorClass ?? null,
        error_detail: job.errorDetail ?? null,
        created_at: stamp(at(job.day, job.time)),
        updated_at: stamp(at(job.day, job.time)),
        delivered_at: deliveredAt,
        created_at_ms: createdMs,
        kie_succeeded_at_ms: succeededMs
      })
    }`
    for (const detail of job.events ?? []) {
      yield* sql`INSERT INTO job_events (job_id, at, from_state, to_state, detail)
        VALUES (${job.id}, ${stamp(at(job.day, job.time))}, 'polling', ${job.state}, ${detail})`
    }
  }
  for (const payment of seedPayments) {
    yield* sql`INSERT INTO payments ${
      sql.insert({
        telegram_payment_charge_id: payment.id,
        user_id: payment.user,
        package: `${payment.credits}`,
        stars: payment.stars,
        credits: payment.credits,
        state: payment.state,
        created_at: stamp(at(payment.day, "15:00:00"))
      })
    }`
  }
})

/** Twelve busier days before DAY1, from a seeded generator: for the dashboard's picture. */
export const seedHistory = (random: { int: (min: number, max: number) => number; next: () => number }) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const stamp = (iso: string) =>
      sql.onDialectOrElse({ pg: () => iso, orElse: () => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") })
    const classes = [["KieTransientError", "RateLimited"], ["KieUserError", "ContentPolicy"], ["KieOperatorError", "InsufficientCredits"], ["DeliveryFailed", "Forbidden"]] as const
    let user = 1000
    for (let back = 12; back >= 1; back--) {
      const day = new Date(Date.parse(`${DAY1}T00:00:00Z`) - back * 86_400_000).toISOString().slice(0, 10)
      const jobs = random.int(8, 30)
      for (let k = 0; k < jobs; k++) {
        const id = ++user
        const time = `${String(8 + (k % 12)).padStart(2, "0")}:${String(random.int(0, 59)).padStart(2, "0")}:00`
        yield* sql`INSERT INTO users (id, created_at) VALUES (${id}, ${stamp(`${day}T${time}Z`)})`
        const roll = random.next()
        const state = roll < 0.84 ? "delivered" : roll < 0.96 ? "refunded" : "failed"
        const failure = state === "delivered" ? undefined : classes[state === "failed" ? 3 : random.int(0, 2)]!
        const createdMs = Date.parse(`${day}T${time}Z`)
        const succeededMs = state === "delivered" ? createdMs + random.int(45, 240) * 1000 : null
        yield* sql`INSERT INTO jobs ${
          sql.insert({
            id: `h${id}`, user_id: id, chat_id: id, request_key: `rk-h${id}`, state,
            model: "kling-2.6/image-to-video", prompt: "move", cost: 1, photo_file_id: `p${id}`,
            attempts: random.next() < 0.1 ? 2 : 1,
            error_class: failure?.[0] ?? null, error_detail: failure?.[1] ?? null,
            created_at: stamp(`${day}T${time}Z`), updated_at: stamp(`${day}T${time}Z`),
            delivered_at: succeededMs === null ? null : stamp(new Date(succeededMs + random.int(1, 9) * 1000).toISOString()),
            created_at_ms: createdMs, kie_succeeded_at_ms: succeededMs
          })
        }`
        if (random.next() < 0.15) {
          yield* sql`INSERT INTO payments ${
            sql.insert({
              telegram_payment_charge_id: `hp${id}`, user_id: id, package: "20", stars: 900, credits: 20,
              state: "credited", created_at: stamp(`${day}T${time}Z`)
            })
          }`
        }
      }
    }
  })
