/**
 * Whether a failure is worth the same work again, decided from its cause:
 * - `transient`: the machinery under the request (a lost connection, a full pool, a
 *   serialization conflict, the cluster's mailboxes and runners). It ends by itself, so the
 *   work is retried for as long as it lasts.
 * - `deterministic`: the request itself (a constraint, an encoding or range error, a
 *   decode error, a defect in our code). The same input fails the same way, so it is
 *   retried a few times at most (a race can pass as a constraint violation once).
 * - `unknown`: a database error whose code says neither. Retried patiently, but bounded.
 */
import { Cause } from "effect"
import { storableText } from "../domain/text.js"

export type FailureClass = "transient" | "deterministic" | "unknown"

const transientTags: ReadonlySet<string> = new Set([
  "MailboxFull",
  "EntityNotAssignedToRunner",
  "EntityNotManagedByRunner",
  "RunnerUnavailable",
  "RunnerNotRegistered",
  "AlreadyProcessingMessage"
])

/** Node's socket errors, seen when the database's connection breaks. */
const networkCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH"
])

/** @effect/sql-pg's own messages when no connection could be had. */
const connectionMessages = /^(Failed to acquire connection|Connection error|PgClient: Failed to connect)/

/** node-postgres' errors without a SQLSTATE: the connection went away or never came. */
const lostConnection = /Connection terminated|timeout exceeded when trying to connect|Connection timed out|not queryable/i

const field = (value: unknown, name: string): unknown =>
  typeof value === "object" && value !== null && name in value ? (value as Record<string, unknown>)[name] : undefined

const stringField = (value: unknown, name: string): string | undefined => {
  const found = field(value, name)
  return typeof found === "string" ? found : undefined
}

/** Postgres SQLSTATE (pg's `.code`) by class; see the PostgreSQL manual's appendix A. */
const classifySqlState = (code: string): FailureClass => {
  if (code === "55P03" || code === "25006") return "transient" // lock not available; read-only after a failover
  switch (code.slice(0, 2)) {
    case "08": // connection exception
    case "40": // serialization failure, deadlock
    case "53": // insufficient resources (too many connections, disk full)
    case "57": // operator intervention (admin shutdown, cannot connect now, query cancelled)
      return "transient"
    case "22": // data exception: invalid byte sequence, numeric out of range, …
    case "23": // integrity constraint violation
      return "deterministic"
    default:
      return "unknown"
  }
}

/** better-sqlite3's `.code`: SQLite's primary result code, often with an extended suffix. */
const classifySqliteCode = (code: string): FailureClass =>
  /^SQLITE_(BUSY|LOCKED)/.test(code)
    ? "transient"
    : /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code)
    ? "deterministic"
    : "unknown"

const classifySqlError = (error: unknown): FailureClass => {
  if (connectionMessages.test(stringField(error, "message") ?? "")) return "transient"
  const cause = field(error, "cause")
  const code = stringField(cause, "code")
  if (code !== undefined) {
    if (code.startsWith("SQLITE_")) return classifySqliteCode(code)
    if (networkCodes.has(code)) return "transient"
    if (/^[0-9A-Z]{5}$/.test(code)) return classifySqlState(code)
  }
  return lostConnection.test(stringField(cause, "message") ?? "") ? "transient" : "unknown"
}

/** One error or defect value. */
export const classifyError = (error: unknown): FailureClass => {
  const tag = stringField(error, "_tag")
  if (tag === "SqlError") return classifySqlError(error)
  // The cluster's storage failing: as its SQL error says, or transient when it says nothing.
  if (tag === "PersistenceError") {
    const cause = field(error, "cause")
    return stringField(cause, "_tag") === "SqlError" ? classifySqlError(cause) : "transient"
  }
  if (tag !== undefined && transientTags.has(tag)) return "transient"
  if (tag === "TimeoutException") return "unknown"
  return "deterministic"
}

/** The failure that decides: the first typed failure, else the first defect. An interruption is transient. */
export const classifyFailure = (cause: Cause.Cause<unknown>): FailureClass =>
  Cause.isInterruptedOnly(cause) ? "transient" : classifyError(Cause.squash(cause))

export interface FailureDescription {
  /** The error's tag, or its constructor's name for a plain defect. */
  readonly tag: string
  /** The database's code (SQLSTATE or SQLite's), when there is one. */
  readonly code: string | undefined
  /** The message with quoted values elided and every secret redacted, at most 300 characters. */
  readonly detail: string
}

/**
 * What an operator may read about a failure: its kind and code, and the message without
 * the values a database quotes in it (a caption, an amount) or any secret.
 */
export const describeFailure = (
  cause: Cause.Cause<unknown>,
  redact: (text: string) => string = (text) => text
): FailureDescription => {
  const error = Cause.squash(cause)
  const sqlError = stringField(error, "_tag") === "PersistenceError" ? field(error, "cause") : error
  const inner = stringField(sqlError, "_tag") === "SqlError" ? field(sqlError, "cause") : undefined
  // An error's own name before its class's: a bundle may rename a class (DatabaseError2).
  const tag = stringField(error, "_tag") ??
    (error instanceof Error ? (error.name !== "Error" ? error.name : error.constructor.name) : typeof error)
  const code = stringField(inner, "code")
  const message = [stringField(error, "message"), stringField(inner, "message")].filter((m) => m !== undefined && m !== "")
    .join(": ")
  const detail = redact(message.replace(/"[^"]*"|'[^']*'|\([^()]*\)=\([^()]*\)/g, "…"))
  return { tag, code, detail: storableText(detail.slice(0, 300)) }
}
