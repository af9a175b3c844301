import { Schema } from "effect"

/** What Telegram tells about a user; an absent field keeps what is known. */
export const UserProfile = Schema.Struct({
  firstName: Schema.optional(Schema.String),
  username: Schema.optional(Schema.String),
  languageCode: Schema.optional(Schema.String)
})
export type UserProfile = typeof UserProfile.Type
