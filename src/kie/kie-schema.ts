/**
 * KIE's answer shapes. Where KIE's docs disagree the schema accepts
 * both readings: `msg` or `message`, `resultJson` as a JSON string or an object,
 * `downloadUrl` or `fileUrl`, `creditsConsumed` or `consumeCredits`.
 */
import { Schema } from "effect"

export const Envelope = Schema.Struct({
  code: Schema.Number,
  msg: Schema.optional(Schema.NullOr(Schema.String)),
  message: Schema.optional(Schema.NullOr(Schema.String)),
  data: Schema.optional(Schema.Unknown)
})
export type Envelope = typeof Envelope.Type

export const CreateTaskData = Schema.Struct({ taskId: Schema.String.pipe(Schema.minLength(1)) })

export const TaskState = Schema.Literal("waiting", "queuing", "generating", "success", "fail")
export type TaskState = typeof TaskState.Type

const ResultObject = Schema.Struct({
  resultUrls: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  result_urls: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  origin_urls: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  firstFrameUrl: Schema.optional(Schema.NullOr(Schema.String)),
  lastFrameUrl: Schema.optional(Schema.NullOr(Schema.String))
})

export const ResultJson = Schema.Union(
  ResultObject,
  Schema.parseJson(ResultObject),
  // Before success the field is empty or null.
  Schema.Literal("").pipe(Schema.transform(Schema.Null, { decode: () => null, encode: () => "" as const })),
  Schema.Null
)

const LooseString = Schema.Union(Schema.String, Schema.Number.pipe(Schema.transform(Schema.String, {
  decode: String,
  encode: Number
})))

export const RecordInfoData = Schema.Struct({
  taskId: Schema.String,
  model: Schema.optional(Schema.NullOr(Schema.String)),
  state: TaskState,
  resultJson: Schema.optional(ResultJson),
  failCode: Schema.optional(Schema.NullOr(LooseString)),
  failMsg: Schema.optional(Schema.NullOr(Schema.String)),
  createTime: Schema.optional(Schema.NullOr(Schema.Number)),
  completeTime: Schema.optional(Schema.NullOr(Schema.Number)),
  progress: Schema.optional(Schema.NullOr(Schema.Number)),
  creditsConsumed: Schema.optional(Schema.NullOr(Schema.Number)),
  consumeCredits: Schema.optional(Schema.NullOr(Schema.Number))
})
export type RecordInfoData = typeof RecordInfoData.Type

export const CreditsData = Schema.Number

export const UploadData = Schema.Struct({
  downloadUrl: Schema.optional(Schema.NullOr(Schema.String)),
  fileUrl: Schema.optional(Schema.NullOr(Schema.String)),
  fileName: Schema.optional(Schema.NullOr(Schema.String)),
  fileSize: Schema.optional(Schema.NullOr(Schema.Number))
}).pipe(
  Schema.filter((data) =>
    (data.downloadUrl ?? data.fileUrl ?? "") !== "" || "upload answer has neither downloadUrl nor fileUrl"
  )
)
