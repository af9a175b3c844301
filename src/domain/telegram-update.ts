import { Schema } from "effect"

/** A Telegram update as received; only `update_id` is read on the way in, the bot reads the rest. */
export const TelegramUpdate = Schema.Struct(
  { update_id: Schema.Int },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
export type TelegramUpdate = typeof TelegramUpdate.Type
