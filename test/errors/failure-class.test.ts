/**
 * Which failures are retried for as long as they last (transient), a few times (deterministic)
 * or patiently but bounded (unknown). Today's loop came from counting every SqlError as
 * infrastructure; the codes below are the ones each driver really reports.
 */
import { ClusterError, EntityAddress, EntityId, EntityType, ShardId } from "@effect/cluster"
import { redactorOf } from "../../src/observability/redaction.js"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { Cause, FiberId, ParseResult, Schema } from "effect"
import { classifyFailure, describeFailure } from "../../src/errors/failure-class.js"
import { storableJson, storableText } from "../../src/domain/text.js"

const driverError = (fields: Record<string, unknown>) => Object.assign(new Error(String(fields.message ?? "failed")), fields)
const sqlError = (cause: unknown, message = "Failed to execute statement") => new SqlError({ cause, message })
const address = EntityAddress.EntityAddress.make({
  shardId: ShardId.make("default", 1),
  entityType: EntityType.EntityType.make("User"),
  entityId: EntityId.make("1")
})

describe("classifyFailure", () => {
  const cases: ReadonlyArray<readonly [string, Cause.Cause<unknown>, string]> = [
    ["pg 22021 invalid byte sequence (U+0000)", Cause.die(sqlError(driverError({ code: "22021" }))), "deterministic"],
    ["pg 22003 numeric out of range", Cause.fail(sqlError(driverError({ code: "22003" }))), "deterministic"],
    ["pg 23505 unique violation", Cause.die(sqlError(driverError({ code: "23505" }))), "deterministic"],
    ["pg 40001 serialization failure", Cause.die(sqlError(driverError({ code: "40001" }))), "transient"],
    ["pg 40P01 deadlock", Cause.die(sqlError(driverError({ code: "40P01" }))), "transient"],
    ["pg 57P01 admin shutdown", Cause.die(sqlError(driverError({ code: "57P01" }))), "transient"],
    ["pg 53300 too many connections", Cause.die(sqlError(driverError({ code: "53300" }))), "transient"],
    ["pg 08006 connection failure", Cause.die(sqlError(driverError({ code: "08006" }))), "transient"],
    ["pg 42P01 undefined table", Cause.die(sqlError(driverError({ code: "42P01" }))), "unknown"],
    ["pg P0001 raise_exception", Cause.die(sqlError(driverError({ code: "P0001" }))), "unknown"],
    ["pg connection terminated", Cause.die(sqlError(driverError({ message: "Connection terminated unexpectedly" }))), "transient"],
    ["pool exhausted", Cause.fail(sqlError(driverError({ message: "timeout exceeded when trying to connect" }), "Failed to acquire connection")), "transient"],
    ["socket refused", Cause.die(sqlError(driverError({ code: "ECONNREFUSED" }))), "transient"],
    ["sqlite busy", Cause.die(sqlError(driverError({ code: "SQLITE_BUSY" }))), "transient"],
    ["sqlite locked", Cause.die(sqlError(driverError({ code: "SQLITE_LOCKED_SHAREDCACHE" }))), "transient"],
    ["sqlite check constraint", Cause.die(sqlError(driverError({ code: "SQLITE_CONSTRAINT_CHECK" }))), "deterministic"],
    ["sqlite trigger", Cause.die(sqlError(driverError({ code: "SQLITE_CONSTRAINT_TRIGGER" }))), "deterministic"],
    ["sqlite mismatch", Cause.die(sqlError(driverError({ code: "SQLITE_MISMATCH" }))), "deterministic"],
    ["sqlite too big", Cause.die(sqlError(driverError({ code: "SQLITE_TOOBIG" }))), "deterministic"],
    ["sqlite I/O error", Cause.die(sqlError(driverError({ code: "SQLITE_IOERR" }))), "unknown"],
    ["the cluster's storage", Cause.fail(new ClusterError.PersistenceError({ cause: new Error("gone") })), "transient"],
    [
      "the cluster's storage refusing a value",
      Cause.fail(new ClusterError.PersistenceError({ cause: sqlError(driverError({ code: "22021" })) })),
      "deterministic"
    ],
    ["a full mailbox", Cause.fail(new ClusterError.MailboxFull({ address })), "transient"],
    ["a decode error", Cause.fail(new ParseResult.ParseError({ issue: new ParseResult.Type(Schema.Number.ast, "x") })), "deterministic"],
    ["a defect in our code", Cause.die(new TypeError("Cannot read properties of undefined")), "deterministic"],
    ["an interruption", Cause.interrupt(FiberId.none), "transient"]
  ]
  for (const [name, cause, expected] of cases) {
    it(name, () => assert.strictEqual(classifyFailure(cause), expected))
  }
})

describe("describeFailure", () => {
  it("keeps the kind and code, drops quoted values and secrets", () => {
    const cause = Cause.die(sqlError(driverError({
      code: "22P02",
      message: `invalid input syntax for type integer: "my secret caption" at https://api.example/bot123:ABCsecret/x`
    })))
    const described = describeFailure(cause, redactorOf(["123:ABCsecret"]).redact)
    assert.strictEqual(described.tag, "SqlError")
    assert.strictEqual(described.code, "22P02")
    assert.notInclude(described.detail, "my secret caption")
    assert.notInclude(described.detail, "ABCsecret")
    assert.include(described.detail, "invalid input syntax for type integer")
  })
})

describe("storable text", () => {
  it("strips U+0000 and replaces lone surrogates, in every string of an update", () => {
    assert.strictEqual(storableText("a\u0000b\uD800c\uDC00d😀"), "ab\uFFFDc\uFFFDd😀")
    assert.deepStrictEqual(
      storableJson({ update_id: 1, message: { caption: "x\u0000", entities: [{ type: "bold" }], from: { first_name: "\u0000Z" } } }),
      { update_id: 1, message: { caption: "x", entities: [{ type: "bold" }], from: { first_name: "Z" } } }
    )
  })
})
