import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { Balance } from "../../src/domain/balance.js"
import { pruneOnce } from "../../src/storage/retention.js"
import { dialects, freshSettings } from "../support/database.js"
import { LedgerOnlyActors, runnerLayer } from "../support/runner.js"

const profile = { firstName: "Ann", languageCode: "en" }

const rowCounts = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [messages] = yield* sql<{ processed: number; unprocessed: number }>`
    SELECT CAST(SUM(CASE WHEN processed THEN 1 ELSE 0 END) AS INTEGER) AS processed,
      CAST(SUM(CASE WHEN processed THEN 0 ELSE 1 END) AS INTEGER) AS unprocessed
    FROM cluster_messages`
  const [replies] = yield* sql<{ n: number }>`SELECT CAST(COUNT(*) AS INTEGER) AS n FROM cluster_replies`
  return { processed: Number(messages?.processed ?? 0), unprocessed: Number(messages?.unprocessed ?? 0), replies: Number(replies!.n) }
})

describe.each(dialects)("retention under a live runner on %s", (dialect) => {
  it.live("removes the messages the cluster really processed; replays after that are still harmless", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect, { FREE_TOKENS: "2" })
      yield* Effect.gen(function*() {
        const user = (yield* UserEntity.client)("301")
        yield* user.Register({ requestKey: "start:1", profile })
        yield* user.Grant({ paymentId: "charge-301", credits: 5 })
        const before = yield* rowCounts
        assert.isAtLeast(before.processed, 2)
        assert.isAtLeast(before.replies, 2)

        // An age of zero: everything processed before this instant is past retention.
        yield* Effect.sleep("5 millis")
        const report = yield* pruneOnce({ messageAgeMs: 0, jobEventsAgeMs: Option.none(), intervalMs: 60_000 })
        assert.strictEqual(report.messages, before.processed)
        assert.strictEqual(report.replies, before.replies)
        assert.deepStrictEqual(yield* rowCounts, { processed: 0, unprocessed: before.unprocessed, replies: 0 })

        // The cluster's dedupe of those two is gone; the database's rules still hold.
        const replayed = yield* user.Register({ requestKey: "start:1", profile })
        assert.isFalse(replayed.newlyGranted)
        yield* user.Grant({ paymentId: "charge-301", credits: 5 })
        assert.deepStrictEqual(yield* user.GetBalance(), new Balance({ credits: 5, freeTokens: 2 }))
      }).pipe(Effect.provide(runnerLayer(settings, LedgerOnlyActors)))
    }).pipe(Effect.scoped))
})
