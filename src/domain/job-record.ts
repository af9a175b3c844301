/**
 * A job as its row stores it (the `jobs` table, src/storage/job-repo.ts). Here rather than
 * in the repository because the waker's Wake carries a claimed row to the job's entity.
 */
import { Schema } from "effect"
import { JobState } from "./job-state.js"

const nullableNumber = Schema.NullOr(Schema.Union(Schema.Number, Schema.NumberFromString))

/** A job as stored; BIGINT columns arrive as strings from Postgres. */
export class JobRecord extends Schema.Class<JobRecord>("JobRecord")({
  id: Schema.String,
  user_id: Schema.Union(Schema.Number, Schema.NumberFromString),
  chat_id: Schema.Union(Schema.Number, Schema.NumberFromString),
  state: JobState,
  model: Schema.String,
  prompt: Schema.String,
  cost: Schema.Number,
  duration_seconds: Schema.Number,
  photo_file_id: Schema.String,
  kie_file_url: Schema.NullOr(Schema.String),
  language: Schema.NullOr(Schema.String),
  kie_task_id: Schema.NullOr(Schema.String),
  attempts: Schema.Number,
  result_url: Schema.NullOr(Schema.String),
  error_class: Schema.NullOr(Schema.String),
  error_detail: Schema.NullOr(Schema.String),
  progress_message_id: nullableNumber,
  created_at_ms: nullableNumber,
  poll_deadline_ms: nullableNumber,
  kie_succeeded_at_ms: nullableNumber,
  video_message_id: nullableNumber,
  outcome: Schema.NullOr(Schema.Literal("deliver", "refund")),
  version: Schema.Union(Schema.Number, Schema.NumberFromString),
  due_at_ms: nullableNumber,
  polls: Schema.Number,
  failed_polls: Schema.Number,
  paused: Schema.Number,
  progress_at_ms: nullableNumber
}) {}
