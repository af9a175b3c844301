/**
 * A campaign's recipients are claimed in batches by the sender's run. A recipient left
 * `sending` (its run stopped, or a batch of this very run failed before Telegram answered
 * for it) is claimed again, so a campaign cannot end with recipients never sent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BroadcastsRepo } from "../../src/storage/broadcasts-repo.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { configLayer, dialects, freshSettings } from "../support/database.js"

const content = { kind: "text", body: "news", entitiesJson: "[]", fileId: undefined, buttons: [] } as const

describe.each(dialects)("broadcast recipients on %s", (dialect) => {
  it.scoped("a batch that failed leaves its unanswered recipients to the run's next claim, and another run's to any", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect)
      yield* Effect.gen(function*() {
        const repo = yield* BroadcastsRepo
        const id = yield* repo.createDraft({ adminId: 1, adminChatId: 1, sourceKey: "msg:1:1", content })
        yield* repo.enroll(id, [11, 12, 13, 14, 15, 16])
        assert.isTrue(yield* repo.transition(id, ["draft"], "running"))

        assert.deepStrictEqual(yield* repo.claim(id, "run-a", 3), [11, 12, 13])
        // Telegram answered for 11; the batch failed before 12 and 13 were answered for.
        yield* repo.record(id, 11, "sent", { messageId: 1 })
        assert.deepStrictEqual(yield* repo.claim(id, "run-a", 3), [12, 13, 14])
        yield* Effect.forEach([12, 13, 14], (userId) => repo.record(id, userId, "sent", { messageId: userId }))

        // Run a stops with 15 in flight; run b takes it again, and 16.
        assert.deepStrictEqual(yield* repo.claim(id, "run-a", 1), [15])
        assert.deepStrictEqual(yield* repo.claim(id, "run-b", 10), [15, 16])
        yield* repo.record(id, 15, "sent", { messageId: 15 })
        yield* repo.record(id, 16, "blocked", { error: "TelegramPermanentError: BlockedByUser" })
        assert.deepStrictEqual(yield* repo.claim(id, "run-b", 10), [])

        const counts = yield* repo.counts(id)
        assert.deepStrictEqual([counts.sent, counts.blocked, counts.sending, counts.pending, counts.resent], [5, 1, 0, 0, 3])
      }).pipe(Effect.provide(BroadcastsRepo.Default.pipe(Layer.provide(DatabaseLive), Layer.provide(configLayer(settings)))))
    }), 60_000)
})
