/** The `telegram_offsets` table: where the poller continues getUpdates, per bot. */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"

export class TelegramOffsets extends Effect.Service<TelegramOffsets>()("app/TelegramOffsets", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const of = Effect.fn("TelegramOffsets.of")(function*(botId: number) {
      const rows = yield* sql<{ next_offset: number | string }>`SELECT next_offset FROM telegram_offsets WHERE bot_id = ${botId}`
      return Option.map(Option.fromNullable(rows[0]), (row) => Number(row.next_offset))
    })

    /** Only moves forward: a stale poller cannot take the offset back. */
    const save = Effect.fn("TelegramOffsets.save")(function*(botId: number, nextOffset: number) {
      yield* sql`
        INSERT INTO telegram_offsets (bot_id, next_offset) VALUES (${botId}, ${nextOffset})
        ON CONFLICT (bot_id) DO UPDATE SET next_offset = excluded.next_offset, updated_at = CURRENT_TIMESTAMP
        WHERE telegram_offsets.next_offset < excluded.next_offset`
    })

    return { of, save } as const
  })
}) {}
