/**
 * Admission: a photo becomes a job in one statement on Postgres (a `WITH` whose parts are
 * the request-key check, the room check, the first contact's free grant, the reservation,
 * the balance, the job row (with a fresh KIE upload of the same photo, for "Generate
 * again"), its event and the inbox mark) and in one short transaction on
 * SQLite, which has no writing `WITH`. Either way: one commit per admitted photo. The poller's
 * lone photos are admitted many at once by ./batch-admission.ts, with the same parts.
 *
 * The caller (the user's entity, or the poller for a lone photo) decides the split from
 * the balance it read; the statement applies it only when the request is new and the user has
 * room, and returns the balance the database now holds.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { Balance, ReservationSplit } from "../domain/balance.js"
import type { UserId } from "../domain/ids.js"
import type { UserProfile } from "../domain/user-profile.js"
import { JobRecord } from "../domain/job-record.js"
import { firstDueAt, type NewJob } from "./job-repo.js"
import type { InboxRow } from "./telegram-inbox.js"

/** The first contact, not yet written: the profile and the free tokens granted once ever. */
export interface Registration {
  readonly profile: UserProfile
  readonly freeTokens: number
}

export interface AdmissionInput {
  readonly job: NewJob
  readonly split: ReservationSplit
  /** The balance after the reservation (and the grant), for a user who has no `balances` row yet. */
  readonly expected: Balance
  /** No room check when undefined (a StartJob message from elsewhere). */
  readonly maxInFlight: number | undefined
  readonly registration: Option.Option<Registration>
  /** The inbox row of the update being handled, marked handled in the same commit. */
  readonly updateId: number | undefined
  /**
   * The update's inbox row when it is not stored yet (a lone photo admitted by the poller,
   * src/telegram/intake/lone-photos.ts): written in the same commit, handled, and only if
   * the job is admitted; an update already stored is not admitted again (`UpdateStored`).
   */
  readonly unstoredUpdate?: InboxRow
  readonly nowMs: number
}

export type AdmissionOutcome =
  /** `job` is the new row as written: its first run need not read it again. */
  | { readonly _tag: "Admitted"; readonly balance: Balance; readonly job: JobRecord }
  | { readonly _tag: "Known"; readonly split: ReservationSplit }
  | { readonly _tag: "NoRoom"; readonly inFlight: number }
  /** The `unstoredUpdate` is stored already: a batch Telegram sent again; that update was handled, or is its entity's. */
  | { readonly _tag: "UpdateStored" }

/** The job states that end a job, as a SQL list. */
export const finishedStates = "('delivered', 'refunded', 'failed')"

interface CheckRow {
  readonly known_credits: number | string | null
  readonly known_free: number | string | null
  readonly in_flight: number | string
  /** How many inbox rows the `unstoredUpdate` has already (0 or 1). */
  readonly stored: number | string
}

interface AdmitRow extends CheckRow {
  readonly admitted: number | string
  readonly credits: number | string | null
  readonly free_tokens: number | string | null
  /** The new job's row (JSON on Postgres), null when none was written. */
  readonly job: unknown
}

interface Moved {
  readonly delta_credits: number | string
  readonly delta_free: number | string
}

const knownSplit = (row: CheckRow) =>
  row.known_credits === null
    ? Option.none()
    // Reservations are stored as negative deltas; abs keeps a zero from reading as -0.
    : Option.some(
      new ReservationSplit({ fromCredits: Math.abs(Number(row.known_credits)), fromFreeTokens: Math.abs(Number(row.known_free)) })
    )

// A row that does not decode is a broken database, not a case to handle.
export const decodeJob = (row: unknown) => Effect.orDie(Schema.decodeUnknown(JobRecord)(row))

const decide = (row: AdmitRow): Effect.Effect<AdmissionOutcome> => {
  const known = knownSplit(row)
  if (Option.isSome(known)) return Effect.succeed({ _tag: "Known", split: known.value })
  if (Number(row.stored) > 0) return Effect.succeed({ _tag: "UpdateStored" })
  if (Number(row.admitted) === 0) return Effect.succeed({ _tag: "NoRoom", inFlight: Number(row.in_flight) })
  return Effect.map(decodeJob(typeof row.job === "string" ? JSON.parse(row.job) : row.job), (job) => ({
    _tag: "Admitted",
    balance: new Balance({ credits: Number(row.credits), freeTokens: Number(row.free_tokens) }),
    job
  }))
}

export class Admission extends Effect.Service<Admission>()("app/Admission", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const profileValues = (userId: UserId, profile: UserProfile) => ({
      id: userId,
      first_name: profile.firstName ?? null,
      username: profile.username ?? null,
      language: profile.languageCode ?? null
    })

    // The parts both dialects share, as fragments over `src` (a one-row source that exists
    // only when the write goes ahead).
    const upsertUser = (userId: UserId, registration: Option.Option<Registration>, src: string) =>
      Option.match(registration, {
        onNone: () => sql`INSERT INTO users (id) SELECT ${userId} FROM ${sql.literal(src)} WHERE TRUE ON CONFLICT (id) DO NOTHING`,
        onSome: ({ profile }) => {
          const v = profileValues(userId, profile)
          return sql`
            INSERT INTO users (id, first_name, username, language, free_tokens_granted_at)
            SELECT ${v.id}, ${v.first_name}, ${v.username}, ${v.language}, CURRENT_TIMESTAMP FROM ${sql.literal(src)} WHERE TRUE
            ON CONFLICT (id) DO UPDATE SET
              first_name = COALESCE(excluded.first_name, users.first_name),
              username = COALESCE(excluded.username, users.username),
              language = COALESCE(excluded.language, users.language),
              free_tokens_granted_at = COALESCE(users.free_tokens_granted_at, excluded.free_tokens_granted_at)`
        }
      })
    const grantRow = (userId: UserId, freeTokens: number, src: string) =>
      sql<Moved>`
        INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free)
        SELECT ${userId}, ${`free_grant:${userId}`}, 'free_grant', 0, ${freeTokens} FROM ${sql.literal(src)} WHERE TRUE
        ON CONFLICT DO NOTHING RETURNING delta_credits, delta_free`
    const reserveRow = (input: AdmissionInput, src: string) =>
      sql<Moved>`
        INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free, job_id)
        SELECT ${input.job.userId}, ${`reserve:${input.job.id}`}, 'reserve', ${-input.split.fromCredits},
               ${-input.split.fromFreeTokens}, ${input.job.id} FROM ${sql.literal(src)} WHERE TRUE
        ON CONFLICT DO NOTHING RETURNING delta_credits, delta_free`
    // The VALUES row holds the expected balance, never a bare delta: Postgres checks the CHECK
    // constraints on the proposed row before it looks for a conflict.
    const moveBalance = (userId: UserId, expected: Balance, moved: string) =>
      sql`
        INSERT INTO balances (user_id, credits, free_tokens)
        SELECT ${userId}, ${expected.credits}, ${expected.freeTokens} FROM ${sql.literal(moved)} WHERE TRUE
        ON CONFLICT (user_id) DO UPDATE SET
          credits = balances.credits + ${sql.literal(`(SELECT dc FROM ${moved})`)},
          free_tokens = balances.free_tokens + ${sql.literal(`(SELECT df FROM ${moved})`)},
          updated_at = CURRENT_TIMESTAMP
        RETURNING credits, free_tokens`
    const jobRow = (job: NewJob, src: string) =>
      sql`
        INSERT INTO jobs (id, user_id, chat_id, request_key, state, model, prompt, cost, duration_seconds, photo_file_id,
                          language, created_at_ms, due_at_ms, kie_file_url)
        SELECT ${job.id}, ${job.userId}, ${job.chatId}, ${job.requestKey}, 'queued', ${job.model}, ${job.prompt},
               ${job.cost}, ${job.durationSeconds}, ${job.photoFileId}, ${job.language ?? null}, ${job.createdAtMs},
               ${firstDueAt(job.createdAtMs)},
               (SELECT p.kie_file_url FROM jobs p
                WHERE p.user_id = ${job.userId} AND p.photo_file_id = ${job.photoFileId} AND p.kie_file_url IS NOT NULL
                  AND p.created_at_ms >= ${job.uploadsReusableSinceMs}
                ORDER BY p.created_at_ms DESC LIMIT 1)
        FROM ${sql.literal(src)} RETURNING *`
    const markInbox = (input: AdmissionInput, src: string) =>
      input.unstoredUpdate === undefined
        ? sql`
        UPDATE telegram_inbox SET handled_at_ms = ${input.nowMs}
        WHERE update_id = ${input.updateId ?? -1} AND handled_at_ms IS NULL AND EXISTS (SELECT 1 FROM ${sql.literal(src)})`
        : sql`
        INSERT INTO telegram_inbox (update_id, user_id, payload, received_at_ms, handled_at_ms)
        SELECT ${input.unstoredUpdate.updateId}, ${input.unstoredUpdate.userId}, ${input.unstoredUpdate.payload},
               ${input.nowMs}, ${input.nowMs} FROM ${sql.literal(src)} WHERE TRUE
        ON CONFLICT (update_id) DO NOTHING`
    const checks = (job: NewJob, unstoredUpdate?: InboxRow) =>
      sql`
        SELECT l.delta_credits AS known_credits, l.delta_free AS known_free,
               (SELECT COUNT(*) FROM jobs WHERE user_id = ${job.userId} AND state NOT IN ${sql.literal(finishedStates)}) AS in_flight,
               (SELECT COUNT(*) FROM telegram_inbox WHERE update_id = ${unstoredUpdate?.updateId ?? -1}) AS stored
        FROM (SELECT 1 AS one) o
        LEFT JOIN jobs j ON j.request_key = ${job.requestKey}
        LEFT JOIN credit_ledger l ON l.job_id = j.id AND l.kind = 'reserve'`

    const admitPg = (input: AdmissionInput) => {
      const grant = Option.match(input.registration, {
        onNone: () => sql`SELECT 0 AS delta_credits, 0 AS delta_free WHERE FALSE`,
        onSome: (registration) => grantRow(input.job.userId, registration.freeTokens, "go")
      })
      const room = input.maxInFlight === undefined ? sql`TRUE` : sql`(SELECT in_flight FROM checks) < ${input.maxInFlight}`
      return sql<AdmitRow>`
        WITH checks AS (${checks(input.job, input.unstoredUpdate)}),
        go AS (SELECT 1 AS ok FROM checks WHERE known_credits IS NULL AND stored = 0 AND ${room}),
        usr AS (${upsertUser(input.job.userId, input.registration, "go")} RETURNING id),
        granted AS (${grant}),
        reserved AS (${reserveRow(input, "go")}),
        moved AS (
          SELECT COALESCE(SUM(delta_credits), 0) AS dc, COALESCE(SUM(delta_free), 0) AS df
          FROM (SELECT delta_credits, delta_free FROM granted UNION ALL SELECT delta_credits, delta_free FROM reserved) d
          HAVING EXISTS (SELECT 1 FROM go)
        ),
        bal AS (${moveBalance(input.job.userId, input.expected, "moved")}),
        job AS (${jobRow(input.job, "go")}),
        event AS (INSERT INTO job_events (job_id, from_state, to_state, detail) SELECT id, NULL, 'queued', NULL FROM job),
        inbox AS (${markInbox(input, "go")})
        SELECT c.known_credits, c.known_free, c.in_flight, c.stored, (SELECT COUNT(*) FROM job) AS admitted,
               (SELECT credits FROM bal) AS credits, (SELECT free_tokens FROM bal) AS free_tokens,
               (SELECT row_to_json(job) FROM job) AS job
        FROM checks c`.pipe(Effect.flatMap((rows) => decide(rows[0]!)))
    }

    const admitSqlite = (input: AdmissionInput) =>
      Effect.gen(function*() {
        const check = (yield* sql<CheckRow>`${checks(input.job, input.unstoredUpdate)}`)[0]!
        const known = knownSplit(check)
        if (Option.isSome(known)) return { _tag: "Known", split: known.value } as AdmissionOutcome
        if (Number(check.stored) > 0) return { _tag: "UpdateStored" } as AdmissionOutcome
        if (input.maxInFlight !== undefined && Number(check.in_flight) >= input.maxInFlight) {
          return { _tag: "NoRoom", inFlight: Number(check.in_flight) } as AdmissionOutcome
        }
        const written = yield* writeSqlite(input.job.userId, input.registration, input.expected, input)
        return { _tag: "Admitted", balance: written.balance, job: yield* decodeJob(written.job) } as AdmissionOutcome
      }).pipe(sql.withTransaction)

    // SQLite: the same parts one after another; `(SELECT 1)` stands for the one-row source.
    const writeSqlite = (
      userId: UserId,
      registration: Option.Option<Registration>,
      expected: Balance,
      admission: AdmissionInput | undefined
    ) =>
      Effect.gen(function*() {
        const one = "(SELECT 1 AS ok)"
        yield* upsertUser(userId, registration, one)
        const moved = [
          ...(Option.isSome(registration) ? yield* grantRow(userId, registration.value.freeTokens, one) : []),
          ...(admission === undefined ? [] : yield* reserveRow(admission, one))
        ]
        const dc = moved.reduce((sum, row) => sum + Number(row.delta_credits), 0)
        const df = moved.reduce((sum, row) => sum + Number(row.delta_free), 0)
        const movedSource = `(SELECT ${dc} AS dc, ${df} AS df)`
        const balance = (yield* moveBalance(userId, expected, movedSource))[0] as { credits: unknown; free_tokens: unknown }
        let job: unknown
        if (admission !== undefined) {
          job = (yield* jobRow(admission.job, one))[0]
          yield* sql`INSERT INTO job_events (job_id, from_state, to_state, detail) VALUES (${admission.job.id}, NULL, 'queued', NULL)`
          yield* markInbox(admission, one)
        }
        return { balance: new Balance({ credits: Number(balance.credits), freeTokens: Number(balance.free_tokens) }), job }
      })

    /** Reserves, inserts the job and applies a pending registration, all or nothing. */
    const admit = Effect.fn("Admission.admit")(function*(input: AdmissionInput) {
      return yield* sql.onDialectOrElse({ pg: () => admitPg(input), orElse: () => admitSqlite(input) })
    })

    /** A first contact without a job: profile and free grant in one commit. Returns the balance. */
    const register = Effect.fn("Admission.register")(
      function*(userId: UserId, registration: Registration, expected: Balance) {
        return yield* sql.onDialectOrElse({
          pg: () =>
            sql<{ credits: number | string; free_tokens: number | string }>`
              WITH usr AS (${upsertUser(userId, Option.some(registration), "(SELECT 1 AS ok) one")} RETURNING id),
              granted AS (${grantRow(userId, registration.freeTokens, "(SELECT 1 AS ok) one")}),
              moved AS (SELECT COALESCE(SUM(delta_credits), 0) AS dc, COALESCE(SUM(delta_free), 0) AS df FROM granted),
              bal AS (${moveBalance(userId, expected, "moved")})
              SELECT credits, free_tokens FROM bal`.pipe(
              Effect.map((rows) => new Balance({ credits: Number(rows[0]!.credits), freeTokens: Number(rows[0]!.free_tokens) }))
            ),
          orElse: () =>
            writeSqlite(userId, Option.some(registration), expected, undefined).pipe(
              Effect.map((written) => written.balance),
              sql.withTransaction
            )
        })
      }
    )

    /** The reservation split of a known request, for a user whose balance would not cover a new one. */
    const knownRequest = Effect.fn("Admission.knownRequest")(function*(job: NewJob) {
      return knownSplit((yield* sql<CheckRow>`${checks(job)}`)[0]!)
    })

    return { admit, register, knownRequest } as const
  })
}) {}
