import { Schema } from "effect"

/** What Telegram tells about a user; an absent field keeps what is known. */
export const UserProfile = Schema.Struct({
  firstName: Schema.optional(Schema.String),
  username: Schema.optional(Schema.String),
  languageCode: Schema.optional(Schema.String)
})
export type UserProfile = typeof UserProfile.Type

/** What a first contact says that the stored profile does not (an absent field keeps the stored one). */
export const profileChanged = (stored: UserProfile, given: UserProfile) =>
  (given.firstName !== undefined && given.firstName !== stored.firstName) ||
  (given.username !== undefined && given.username !== stored.username) ||
  (given.languageCode !== undefined && given.languageCode !== stored.languageCode)
