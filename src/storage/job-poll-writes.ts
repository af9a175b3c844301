/**
 * Polls that found nothing new, many in one statement (the group commit of
 * src/jobs/job-steps.ts): each row stays `polling`, with the machine's polling columns, its
 * next due time and lease, only if it is still at its version. `JobRepo.advancePolls`
 * (./job-repo.ts) answers which of them were written, in the order given.
 */
import type { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** The columns of a `polling` row that the machine keeps (src/jobs/job-row.ts, `columnsOf`). */
export interface PollingColumns {
  readonly kie_task_id: string
  readonly attempts: number
  readonly poll_deadline_ms: number | null
  readonly polls: number
  readonly failed_polls: number
  readonly progress_at_ms: number | null
}

/** A poll's write: the row stays `polling`, due again at `dueAtMs`. */
export interface PolledRow {
  readonly jobId: string
  readonly version: number
  readonly columns: PollingColumns
  readonly dueAtMs: number
  readonly leasedAtMs: number | null
}

/** `rows` in rounds that name each id at most once, in their order: the first of each, then the second… */
const roundsOf = <A extends { readonly id: string }>(rows: ReadonlyArray<A>): ReadonlyArray<ReadonlyArray<A>> => {
  const rounds: Array<Array<A>> = []
  const seen = new Map<string, number>()
  for (const row of rows) {
    const round = seen.get(row.id) ?? 0
    seen.set(row.id, round + 1)
    const into = rounds[round] ?? []
    into.push(row)
    rounds[round] = into
  }
  return rounds
}

/**
 * Postgres (`writingWith`) takes the polls as one JSON parameter, a job at most once per
 * statement: an `UPDATE … FROM` writes a row once, and would report it written for every
 * poll of it. SQLite, which has one writer, takes them one by one in one short transaction.
 */
export const makeAdvancePolls = (sql: SqlClient.SqlClient, writingWith: boolean) =>
  Effect.fn("JobRepo.advancePolls")(function*(polls: ReadonlyArray<PolledRow>) {
    // `at`: the poll's place in `polls`, which a written row returns.
    const rows = polls.map((poll, at) => ({
      ...poll.columns,
      at,
      id: poll.jobId,
      version: poll.version,
      due_at_ms: Math.ceil(poll.dueAtMs),
      leased_at_ms: poll.leasedAtMs === null ? null : Math.floor(poll.leasedAtMs)
    }))
    const writeOnce = (round: ReadonlyArray<(typeof rows)[number]>) =>
      sql<{ at: number }>`
        UPDATE jobs SET version = jobs.version + 1, due_at_ms = v.due_at_ms, leased_at_ms = v.leased_at_ms,
                        updated_at = CURRENT_TIMESTAMP, kie_task_id = v.kie_task_id, attempts = v.attempts,
                        poll_deadline_ms = v.poll_deadline_ms, polls = v.polls, failed_polls = v.failed_polls,
                        progress_at_ms = v.progress_at_ms
        FROM jsonb_to_recordset(${JSON.stringify(round)}::jsonb) AS v(
          at integer, id text, version integer, due_at_ms bigint, leased_at_ms bigint, kie_task_id text, attempts integer,
          poll_deadline_ms bigint, polls integer, failed_polls integer, progress_at_ms bigint)
        WHERE jobs.id = v.id AND jobs.version = v.version AND jobs.state = 'polling'
        RETURNING v.at`
    const written = writingWith
      ? yield* Effect.forEach(roundsOf(rows), writeOnce).pipe(Effect.map((results) => results.flat()))
      : yield* Effect.forEach(rows, ({ at, id, version, ...changes }) =>
        sql<{ at: number }>`
          UPDATE jobs SET ${sql.update(changes)}, version = version + 1, updated_at = CURRENT_TIMESTAMP
          WHERE id = ${id} AND version = ${version} AND state = 'polling' RETURNING ${at} AS at`).pipe(
        Effect.map((results) => results.flat()),
        sql.withTransaction
      )
    const writtenAt = new Set(written.map((row) => Number(row.at)))
    return polls.map((_, at) => writtenAt.has(at))
  })
