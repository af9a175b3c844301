/**
 * The `preset_offers` table: a photo without a caption and what its preset menu offered
 * (the model, duration and price of the user's settings then). A tap on the menu starts
 * the job from this row, at the price the buttons showed.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import type { UserId } from "../domain/ids.js"
import { column, optionalColumn, SqlNumber } from "./sql-schemas.js"

export class PresetOffer extends Schema.Class<PresetOffer>("PresetOffer")({
  chatId: column("chat_id", SqlNumber),
  messageId: column("message_id", SqlNumber),
  userId: column("user_id", SqlNumber),
  fileId: column("file_id", Schema.String),
  fileSize: optionalColumn("file_size", SqlNumber),
  model: Schema.String,
  durationSeconds: column("duration_seconds", SqlNumber),
  cost: SqlNumber
}) {}

const decodeOfferRows = Schema.decodeUnknown(Schema.Array(PresetOffer))
const decodeOffers = (rows: ReadonlyArray<unknown>) => Effect.orDie(decodeOfferRows(rows))

export class PresetOffersRepo extends Effect.Service<PresetOffersRepo>()("app/PresetOffersRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** The first offer for a photo stands: a redelivered photo keeps the price it was shown. */
    const save = Effect.fn("PresetOffersRepo.save")(function*(offer: PresetOffer) {
      yield* sql`
        INSERT INTO preset_offers (chat_id, message_id, user_id, file_id, file_size, model, duration_seconds, cost)
        VALUES (${offer.chatId}, ${offer.messageId}, ${offer.userId}, ${offer.fileId}, ${offer.fileSize ?? null},
          ${offer.model}, ${offer.durationSeconds}, ${offer.cost})
        ON CONFLICT (chat_id, message_id) DO NOTHING`
    })

    /** The user's own offer for that photo; another user's (a forged button) is none. */
    const find = Effect.fn("PresetOffersRepo.find")(function*(userId: UserId, chatId: number, messageId: number) {
      const rows = yield* sql`
        SELECT chat_id, message_id, user_id, file_id, file_size, model, duration_seconds, cost FROM preset_offers
        WHERE chat_id = ${chatId} AND message_id = ${messageId} AND user_id = ${userId}`
      return Option.fromNullable((yield* decodeOffers(rows))[0])
    })

    return { save, find } as const
  })
}) {}
