/** Column codecs shared by the repositories' row schemas. */
import { Schema } from "effect"
import { UserId } from "../domain/ids.js"

/** A number column: Postgres hands BIGINT columns and aggregates over as strings. */
export const SqlNumber = Schema.Union(Schema.Number, Schema.NumberFromString)

/** A user id column (BIGINT). */
export const SqlUserId = SqlNumber.pipe(Schema.compose(UserId))

/** A field read from (and written to) the snake_case column `name`. */
export const column = <S extends Schema.Schema.Any>(name: string, schema: S) =>
  Schema.propertySignature(schema).pipe(Schema.fromKey(name))

/** A nullable column as an optional field: NULL reads as absent. */
export const optionalColumn = <S extends Schema.Schema.Any>(name: string, schema: S) =>
  Schema.optionalWith(schema, { nullable: true }).pipe(Schema.fromKey(name))
