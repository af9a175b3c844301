/**
 * The poller admits a photo that is its user's only update itself, without the user's
 * entity (src/telegram/intake/lone-photos.ts); whatever it declines goes to the entity,
 * which answers as before. Updates pushed before the runner starts arrive as one batch.
 */
import { ClusterMetrics } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { lonePhotosAdmitted } from "../../src/observability/metrics.js"
import {
  ADMIN_ID,
  eventually,
  hasText,
  inSystem,
  photoBytes,
  pollingSystem,
  startSystemSimulators,
  textsTo,
  user,
  videosTo
} from "./support.js"

const admittedAtIntake = () => Number(Effect.runSync(Metric.value(lonePhotosAdmitted)).count)
const userEntities = () => Number(Effect.runSync(Metric.value(ClusterMetrics.entities.pipe(Metric.tagged("type", "User")))).value)

describe.each(["sqlite", "pg"] as const)("lone photos admitted by the poller (%s)", (dialect) => {
  it.scoped("a new user's lone photo becomes a job with no user entity; what the poller declines, the entity answers", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      const before = admittedAtIntake()
      // One batch: a lone photo; a command then a photo from one user; a caption the model
      // refuses; a photo from an admin; a photo whose caption starts like a command (the
      // simulator marks no command entity in a caption, so the entity takes it as a photo).
      user(sims, 7901).sendPhoto(photoBytes, { caption: "the tide comes in" })
      user(sims, 7902).sendCommand("start")
      user(sims, 7902).sendPhoto(photoBytes, { caption: "leaves fall" })
      user(sims, 7903).sendPhoto(photoBytes, { caption: "x".repeat(5_000) })
      user(sims, ADMIN_ID).sendPhoto(photoBytes, { caption: "clouds drift" })
      user(sims, 7904).sendPhoto(photoBytes, { caption: "/balance" })
      // More lone photos: on Postgres their admissions go out side by side in the one transaction.
      const others = [7911, 7912, 7913, 7914, 7915]
      for (const id of others) user(sims, id).sendPhoto(photoBytes, { caption: `the river ${id}` })
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const jobsOf = (userId: number) =>
          Effect.map(sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM jobs WHERE user_id = ${userId}`, (rows) => Number(rows[0]!.n))
        const queuedMessagesTo = (chatId: number) =>
          sim.callsOf("sendMessage").filter((call) =>
            Number(call.params.chat_id) === chatId && String(call.params.text).includes("In the queue")
          ).length
        let mostUserEntities = 0
        yield* eventually(sims, "every update answered", () => {
          mostUserEntities = Math.max(mostUserEntities, userEntities())
          return hasText(sim, 7901, "In the queue") && hasText(sim, 7902, "In the queue") &&
            hasText(sim, 7903, "Your caption has 5000 characters") && hasText(sim, ADMIN_ID, "In the queue") &&
            hasText(sim, 7904, "In the queue") && others.every((id) => hasText(sim, id, "In the queue"))
        })
        assert.strictEqual(admittedAtIntake() - before, 1 + others.length, "only the lone photos are admitted at intake")
        assert.deepStrictEqual(
          yield* Effect.all([jobsOf(7901), jobsOf(7902), jobsOf(7903), jobsOf(ADMIN_ID), jobsOf(7904)]),
          [1, 1, 0, 1, 1]
        )
        assert.isAtLeast(mostUserEntities, 1, "the other users' entities ran")
        const unhandled = yield* sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM telegram_inbox WHERE handled_at_ms IS NULL`
        assert.strictEqual(Number(unhandled[0]!.n), 0)
        const reserved = yield* sql<{ n: number | string }>`
          SELECT COUNT(*) AS n FROM credit_ledger WHERE kind = 'reserve' AND ${sql.in("user_id", others)}`
        assert.strictEqual(Number(reserved[0]!.n), others.length)
        // The first contact was written with the admission: profile, free grant, reservation.
        const written = yield* sql<{ first_name: string; credits: number | string; free_tokens: number | string }>`
          SELECT u.first_name, b.credits, b.free_tokens FROM users u JOIN balances b ON b.user_id = u.id WHERE u.id = 7901`
        assert.deepStrictEqual(written.map((row) => [row.first_name, Number(row.credits), Number(row.free_tokens)]), [["User7901", 0, 1]])
        yield* eventually(sims, "the video", () => videosTo(sim, 7901).length === 1)

        // Alone in its batch now: the photo goes by the poller, and no user entity is built for it.
        yield* eventually(sims, "every entity passivated", () => userEntities() === 0, "1 minute")
        mostUserEntities = 0
        user(sims, 7901).sendPhoto(photoBytes, { caption: "the tide goes out" })
        yield* eventually(sims, "the second job", () => {
          mostUserEntities = Math.max(mostUserEntities, userEntities())
          return queuedMessagesTo(7901) === 2
        }, "1 minute", "100 millis")
        assert.strictEqual(yield* jobsOf(7901), 2)
        assert.strictEqual(mostUserEntities, 0, "no user entity for a lone photo")
        assert.strictEqual(admittedAtIntake() - before, 2 + others.length)
        // Its entity, built for the next update, reads the balance the poller left.
        const answersBefore = textsTo(sim, 7901).length
        user(sims, 7901).sendCommand("balance")
        yield* eventually(sims, "the balance", () => textsTo(sim, 7901).length > answersBefore)
        const answer = textsTo(sim, 7901).slice(answersBefore).find((text) => text.includes("Balance:"))
        assert.include(answer, "Balance: 0 credits")
        assert.notInclude(answer, "free")
      }))
    }), 180_000)
})
