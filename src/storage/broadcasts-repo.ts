/**
 * The `broadcasts` and `broadcast_recipients` tables: an admin's campaign and each user it
 * goes to. The sender (src/broadcasts/broadcast-sender.ts) claims recipients in batches and
 * writes each one's outcome as soon as Telegram has answered for it.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import type { BroadcastContent, BroadcastState, RecipientOutcome } from "../domain/broadcast.js"
import { column, optionalColumn, SqlNumber } from "./sql-schemas.js"

const ButtonRows = Schema.parseJson(Schema.Array(Schema.Array(Schema.Struct({ text: Schema.String, url: Schema.String }))))

export class Broadcast extends Schema.Class<Broadcast>("Broadcast")({
  id: SqlNumber,
  adminId: column("admin_id", SqlNumber),
  adminChatId: column("admin_chat_id", SqlNumber),
  kind: Schema.Literal("text", "photo", "video"),
  body: Schema.String,
  entitiesJson: column("entities", Schema.String),
  fileId: optionalColumn("file_id", Schema.String),
  buttons: ButtonRows,
  state: Schema.Literal("draft", "running", "paused", "cancelled", "done"),
  recipients: SqlNumber,
  statusMessageId: optionalColumn("status_message_id", SqlNumber),
  reported: column("reported", Schema.Union(Schema.Boolean, SqlNumber))
}) {
  get content(): BroadcastContent {
    return { kind: this.kind, body: this.body, entitiesJson: this.entitiesJson, fileId: this.fileId, buttons: this.buttons }
  }
}

export interface RecipientCounts {
  readonly pending: number
  readonly sending: number
  readonly sent: number
  readonly blocked: number
  readonly failed: number
  /** Recipients claimed more than once: a runner stopped while their send was in flight. */
  readonly resent: number
}

const decodeBroadcastRows = Schema.decodeUnknown(Schema.Array(Broadcast))
const decodeBroadcasts = (rows: ReadonlyArray<unknown>) => Effect.orDie(decodeBroadcastRows(rows))

const columns = `id, admin_id, admin_chat_id, kind, body, entities, file_id, buttons, state, recipients, status_message_id,
  CASE WHEN reported_at IS NULL THEN 0 ELSE 1 END AS reported`

export class BroadcastsRepo extends Effect.Service<BroadcastsRepo>()("app/BroadcastsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const get = Effect.fn("BroadcastsRepo.get")(function*(id: number) {
      const rows = yield* sql`SELECT ${sql.literal(columns)} FROM broadcasts WHERE id = ${id}`
      return Option.fromNullable((yield* decodeBroadcasts(rows))[0])
    })

    /** A draft per `sourceKey` (the admin's update): a redelivered /broadcast finds its own. */
    const createDraft = Effect.fn("BroadcastsRepo.createDraft")(
      function*(draft: { adminId: number; adminChatId: number; sourceKey: string; content: BroadcastContent }) {
        const { content } = draft
        yield* sql`
          INSERT INTO broadcasts (admin_id, admin_chat_id, source_key, kind, body, entities, file_id, buttons, state)
          VALUES (${draft.adminId}, ${draft.adminChatId}, ${draft.sourceKey}, ${content.kind}, ${content.body},
            ${content.entitiesJson}, ${content.fileId ?? null}, ${JSON.stringify(content.buttons)}, 'draft')
          ON CONFLICT (source_key) DO NOTHING`
        const rows = yield* sql<{ id: number | string }>`SELECT id FROM broadcasts WHERE source_key = ${draft.sourceKey}`
        return Number(rows[0]!.id)
      }
    )

    /** Adds recipients to a draft; adding one twice is a no-op, so an interrupted enrolment can run again. */
    const enroll = Effect.fn("BroadcastsRepo.enroll")(function*(id: number, userIds: ReadonlyArray<number>) {
      if (userIds.length === 0) return
      yield* sql`INSERT INTO broadcast_recipients ${sql.insert(userIds.map((userId) => ({ broadcast_id: id, user_id: userId, state: "pending" })))}
        ON CONFLICT (broadcast_id, user_id) DO NOTHING`
    })

    /** Moves a campaign from one of `from` to `to`; false when it was in none of them (a second tap). */
    const transition = Effect.fn("BroadcastsRepo.transition")(
      function*(id: number, from: ReadonlyArray<BroadcastState>, to: BroadcastState) {
        const stamp = to === "running" ? sql`, started_at = COALESCE(started_at, CURRENT_TIMESTAMP)` :
          to === "done" || to === "cancelled" ? sql`, finished_at = CURRENT_TIMESTAMP` : sql``
        const rows = yield* sql<{ id: number }>`
          UPDATE broadcasts SET state = ${to} ${stamp},
            recipients = (SELECT COUNT(*) FROM broadcast_recipients WHERE broadcast_id = ${id})
          WHERE id = ${id} AND ${sql.in("state", from)} RETURNING id`
        return rows.length > 0
      }
    )

    const setStatusMessage = Effect.fn("BroadcastsRepo.setStatusMessage")(function*(id: number, messageId: number) {
      yield* sql`UPDATE broadcasts SET status_message_id = ${messageId} WHERE id = ${id}`
    })

    /** Campaigns the sender has work in, oldest first. */
    const running = Effect.fn("BroadcastsRepo.running")(function*() {
      const rows = yield* sql`SELECT ${sql.literal(columns)} FROM broadcasts WHERE state = 'running' ORDER BY id`
      return yield* decodeBroadcasts(rows)
    })

    /** Campaigns that ran and ended (done or cancelled) and whose admin has not had the report yet; a discarded draft has none. */
    const unreported = Effect.fn("BroadcastsRepo.unreported")(function*() {
      const rows = yield* sql`
        SELECT ${sql.literal(columns)} FROM broadcasts
        WHERE state IN ('done', 'cancelled') AND started_at IS NOT NULL AND reported_at IS NULL ORDER BY id`
      return yield* decodeBroadcasts(rows)
    })

    const markReported = Effect.fn("BroadcastsRepo.markReported")(function*(id: number) {
      yield* sql`UPDATE broadcasts SET reported_at = CURRENT_TIMESTAMP WHERE id = ${id}`
    })

    /**
     * The next recipients to send to, marked `sending` by this run: pending ones, and ones
     * claimed and never answered for. A run claims its next batch only once the last one has
     * ended, so a recipient still `sending` is in no send of this run: an earlier run stopped
     * with it in flight, or a batch of this run failed (the database away for a moment) and
     * left it. Skipping this run's own, as the claim once did, let a campaign end `done` with
     * recipients never sent (the broadcast failover, on a loaded machine: 116 of 1,021).
     */
    const claim = Effect.fn("BroadcastsRepo.claim")(function*(id: number, run: string, limit: number) {
      return yield* sql.withTransaction(Effect.gen(function*() {
        const rows = yield* sql<{ user_id: number | string }>`
          SELECT user_id FROM broadcast_recipients
          WHERE broadcast_id = ${id} AND state IN ('pending', 'sending')
          ORDER BY user_id LIMIT ${limit}`
        const userIds = rows.map((row) => Number(row.user_id))
        if (userIds.length === 0) return userIds
        yield* sql`
          UPDATE broadcast_recipients SET state = 'sending', claimed_by = ${run}, attempts = attempts + 1,
            updated_at = CURRENT_TIMESTAMP
          WHERE broadcast_id = ${id} AND ${sql.in("user_id", userIds)}`
        return userIds
      }))
    })

    /** One recipient's outcome, written as soon as Telegram answered for it. */
    const record = Effect.fn("BroadcastsRepo.record")(function*(
      id: number,
      userId: number,
      outcome: RecipientOutcome,
      detail: { readonly messageId?: number | undefined; readonly error?: string | undefined }
    ) {
      yield* sql`
        UPDATE broadcast_recipients SET state = ${outcome}, message_id = ${detail.messageId ?? null},
          error = ${detail.error ?? null}, updated_at = CURRENT_TIMESTAMP
        WHERE broadcast_id = ${id} AND user_id = ${userId}`
    })

    const counts = Effect.fn("BroadcastsRepo.counts")(function*(id: number) {
      const rows = yield* sql<{ state: string; n: number | string; resent: number | string }>`
        SELECT state, COUNT(*) AS n, SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS resent
        FROM broadcast_recipients WHERE broadcast_id = ${id} GROUP BY state`
      const of = (state: string) => Number(rows.find((row) => row.state === state)?.n ?? 0)
      return {
        pending: of("pending"),
        sending: of("sending"),
        sent: of("sent"),
        blocked: of("blocked"),
        failed: of("failed"),
        resent: rows.reduce((sum, row) => sum + Number(row.resent ?? 0), 0)
      } satisfies RecipientCounts
    })

    return { get, createDraft, enroll, transition, setStatusMessage, running, unreported, markReported, claim, record, counts } as const
  })
}) {}
