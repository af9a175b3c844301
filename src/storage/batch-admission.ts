/**
 * Many users' photos, one each, admitted at once: the poller's lone photos of a batch
 * (src/telegram/intake/lone-photos.ts), each with its inbox row, not yet stored. On Postgres
 * one statement with the same parts as a single admission (./admission.ts) over a set of
 * rows, each admitted photo's inbox row written handled by it; on SQLite one admission after
 * another in one transaction. A photo whose request is known, whose user has no room or whose
 * update is stored already (a batch Telegram sent again after a crash: that update was
 * handled, or is its entity's) is left out, its row the caller's to store. All or nothing: a
 * statement that fails (a CHECK refused one balance, say) admits none.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { Admission, type AdmissionInput, decodeJob, finishedStates } from "./admission.js"
import { firstDueAt } from "./job-repo.js"
import type { InboxRow } from "./telegram-inbox.js"

export type LonePhotoAdmission = AdmissionInput & { readonly unstoredUpdate: InboxRow }

export class BatchAdmission extends Effect.Service<BatchAdmission>()("app/BatchAdmission", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const admission = yield* Admission

    const admitManyPg = (inputs: ReadonlyArray<LonePhotoAdmission>) => {
      const rows = inputs.map(({ expected, job, maxInFlight, nowMs, registration, split, unstoredUpdate }) => {
                return {
          user_id: job.userId,
          chat_id: job.chatId,
          job_id: job.id,
          request_key: job.requestKey,
          model: job.model,
          prompt: job.prompt,
          cost: job.cost,
          duration_seconds: job.durationSeconds,
          photo_file_id: job.photoFileId,
          language: job.language ?? null,
          created_at_ms: job.createdAtMs,
          due_at_ms: firstDueAt(job.createdAtMs),
          reusable_since_ms: job.uploadsReusableSinceMs,
          from_credits: split.fromCredits,
          from_free: split.fromFreeTokens,
          expected_credits: expected.credits,
          expected_free: expected.freeTokens,
          grant_free: Option.match(registration, { onNone: () => null, onSome: (r) => r.freeTokens }),
          first_name: Option.match(registration, { onNone: () => null, onSome: (r) => r.profile.firstName ?? null }),
          username: Option.match(registration, { onNone: () => null, onSome: (r) => r.profile.username ?? null }),
          lang_code: Option.match(registration, { onNone: () => null, onSome: (r) => r.profile.languageCode ?? null }),
          max_in_flight: maxInFlight ?? null,
          update_id: unstoredUpdate.updateId,
          payload: unstoredUpdate.payload,
          now_ms: nowMs
        }
      })
      // The same parts as `admitPg`, over a set of rows: one user per row. A user with nothing
      // to register gets NULLs, which the upsert's COALESCEs leave as stored.
      return sql<{ job: unknown }>`
        WITH i AS (
          SELECT * FROM json_to_recordset(${JSON.stringify(rows)}::json) AS x(
            user_id BIGINT, chat_id BIGINT, job_id TEXT, request_key TEXT, model TEXT, prompt TEXT, cost INTEGER,
            duration_seconds INTEGER, photo_file_id TEXT, language TEXT, created_at_ms BIGINT, due_at_ms BIGINT,
            reusable_since_ms BIGINT, from_credits INTEGER, from_free INTEGER, expected_credits INTEGER,
            expected_free INTEGER, grant_free INTEGER, first_name TEXT, username TEXT, lang_code TEXT,
            max_in_flight INTEGER, update_id BIGINT, payload TEXT, now_ms BIGINT)
        ),
        go AS (
          SELECT i.* FROM i
          WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.request_key = i.request_key)
            AND NOT EXISTS (SELECT 1 FROM telegram_inbox t WHERE t.update_id = i.update_id)
            AND (i.max_in_flight IS NULL OR (SELECT COUNT(*) FROM jobs
                 WHERE user_id = i.user_id AND state NOT IN ${sql.literal(finishedStates)}) < i.max_in_flight)
        ),
        usr AS (
          INSERT INTO users (id, first_name, username, language, free_tokens_granted_at)
          SELECT user_id, first_name, username, lang_code, CASE WHEN grant_free IS NULL THEN NULL ELSE CURRENT_TIMESTAMP END FROM go
          ON CONFLICT (id) DO UPDATE SET
            first_name = COALESCE(excluded.first_name, users.first_name),
            username = COALESCE(excluded.username, users.username),
            language = COALESCE(excluded.language, users.language),
            free_tokens_granted_at = COALESCE(users.free_tokens_granted_at, excluded.free_tokens_granted_at)
          RETURNING id
        ),
        granted AS (
          INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free)
          SELECT user_id, 'free_grant:' || user_id, 'free_grant', 0, grant_free FROM go WHERE grant_free IS NOT NULL
          ON CONFLICT DO NOTHING RETURNING user_id, delta_credits, delta_free
        ),
        reserved AS (
          INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free, job_id)
          SELECT user_id, 'reserve:' || job_id, 'reserve', -from_credits, -from_free, job_id FROM go
          ON CONFLICT DO NOTHING RETURNING user_id, delta_credits, delta_free
        ),
        moved AS (
          SELECT user_id, SUM(delta_credits) AS dc, SUM(delta_free) AS df
          FROM (SELECT * FROM granted UNION ALL SELECT * FROM reserved) d GROUP BY user_id
        ),
        bal AS (
          INSERT INTO balances (user_id, credits, free_tokens)
          SELECT m.user_id, go.expected_credits, go.expected_free FROM moved m JOIN go ON go.user_id = m.user_id
          ON CONFLICT (user_id) DO UPDATE SET
            credits = balances.credits + (SELECT dc FROM moved WHERE moved.user_id = excluded.user_id),
            free_tokens = balances.free_tokens + (SELECT df FROM moved WHERE moved.user_id = excluded.user_id),
            updated_at = CURRENT_TIMESTAMP
          RETURNING user_id
        ),
        job AS (
          INSERT INTO jobs (id, user_id, chat_id, request_key, state, model, prompt, cost, duration_seconds, photo_file_id,
                            language, created_at_ms, due_at_ms, kie_file_url)
          SELECT go.job_id, go.user_id, go.chat_id, go.request_key, 'queued', go.model, go.prompt, go.cost, go.duration_seconds,
                 go.photo_file_id, go.language, go.created_at_ms, go.due_at_ms,
                 (SELECT p.kie_file_url FROM jobs p
                  WHERE p.user_id = go.user_id AND p.photo_file_id = go.photo_file_id AND p.kie_file_url IS NOT NULL
                    AND p.created_at_ms >= go.reusable_since_ms
                  ORDER BY p.created_at_ms DESC LIMIT 1)
          FROM go RETURNING *
        ),
        event AS (INSERT INTO job_events (job_id, from_state, to_state, detail) SELECT id, NULL, 'queued', NULL FROM job),
        inbox AS (
          INSERT INTO telegram_inbox (update_id, user_id, payload, received_at_ms, handled_at_ms)
          SELECT update_id, user_id, payload, now_ms, now_ms FROM go
          ON CONFLICT (update_id) DO NOTHING
        )
        SELECT row_to_json(job) AS job FROM job`.pipe(
        Effect.flatMap((found) => Effect.forEach(found, (row) => decodeJob(typeof row.job === "string" ? JSON.parse(row.job) : row.job)))
      )
    }

    /** Returns the jobs admitted. */
    const admitMany = Effect.fn("BatchAdmission.admitMany")(function*(inputs: ReadonlyArray<LonePhotoAdmission>) {
      if (inputs.length === 0) return []
      return yield* sql.onDialectOrElse({
        pg: () => admitManyPg(inputs),
        orElse: () =>
          Effect.map(
            Effect.forEach(inputs, (input) => admission.admit(input)),
            (outcomes) => outcomes.flatMap((outcome) => outcome._tag === "Admitted" ? [outcome.job] : [])
          ).pipe(sql.withTransaction)
      })
    })

    return { admitMany } as const
  }),
  dependencies: [Admission.Default]
}) {}
