/**
 * Failures of the machinery under the business logic (the database, the cluster's storage
 * and mailboxes) rather than of the request itself: the same work, done again a moment
 * later, can succeed. Code that would otherwise log a failure and move on asks this first,
 * so that an update or a step is retried instead of silently lost.
 */
import { Cause } from "effect"

const infrastructureTags: ReadonlySet<string> = new Set([
  "SqlError",
  "PersistenceError",
  "MailboxFull",
  "EntityNotAssignedToRunner",
  "EntityNotManagedByRunner",
  "RunnerUnavailable"
])

const isInfrastructureError = (value: unknown) =>
  typeof value === "object" && value !== null && "_tag" in value && infrastructureTags.has(String(value._tag))

export const isInfrastructureFailure = (cause: Cause.Cause<unknown>): boolean =>
  [...Cause.failures(cause), ...Cause.defects(cause)].some(isInfrastructureError)
