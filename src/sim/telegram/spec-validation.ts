/**
 * The Bot API specification (telegram-bot-api-10.1.json, scraped from the official docs by
 * PaulSonOfLars/telegram-bot-api-spec, MIT) used as an oracle: which methods exist, which fields
 * each accepts, which are required and of what type. `validate` turns a decoded request into
 * typed parameters or throws the 400 the real server would answer.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { badRequest } from "./api-error.js"
import { type DecodedRequest, isUploadedFile, type UploadedFile } from "./http-body.js"

export interface FieldSpec {
  readonly name: string
  readonly types: ReadonlyArray<string>
  readonly required: boolean
}

export interface MethodSpec {
  readonly name: string
  readonly fields: ReadonlyArray<FieldSpec>
  readonly returns: ReadonlyArray<string>
}

interface SpecFile {
  readonly version: string
  readonly methods: Record<string, { name: string; returns: Array<string>; fields?: Array<FieldSpec> }>
}

export const defaultSpecPath = fileURLToPath(new URL("./telegram-bot-api-10.1.json", import.meta.url))

/** Parameters after validation: numbers, booleans, strings, parsed JSON objects and uploads. */
export type Params = Record<string, unknown>

export class BotApiSpec {
  private readonly byLowerName: Map<string, MethodSpec>

  private constructor(readonly version: string, methods: ReadonlyArray<MethodSpec>) {
    this.byLowerName = new Map(methods.map((m) => [m.name.toLowerCase(), m]))
  }

  private static readonly loaded = new Map<string, BotApiSpec>()

  /** Reads and indexes the spec file once per path. */
  static load(path: string = defaultSpecPath): BotApiSpec {
    const cached = BotApiSpec.loaded.get(path)
    if (cached !== undefined) return cached
    const spec = BotApiSpec.read(path)
    BotApiSpec.loaded.set(path, spec)
    return spec
  }

  private static read(path: string): BotApiSpec {
    const file = JSON.parse(readFileSync(path, "utf8")) as SpecFile
    const methods = Object.values(file.methods).map((m) => ({
      name: m.name,
      returns: m.returns,
      fields: (m.fields ?? []).map((f) => ({ name: f.name, types: f.types, required: f.required }))
    }))
    return new BotApiSpec(file.version, methods)
  }

  /** Method names are case-insensitive, as on the real server. */
  method(name: string): MethodSpec | undefined {
    return this.byLowerName.get(name.toLowerCase())
  }

  validate(method: MethodSpec, request: DecodedRequest): Params {
    const known = new Map(method.fields.map((f) => [f.name, f]))
    for (const key of Object.keys(request.params)) {
      if (!known.has(key)) throw badRequest(`unknown parameter "${key}" for method ${method.name}`)
    }
    const params: Params = {}
    for (const field of method.fields) {
      let raw = request.params[field.name]
      if (raw === undefined && field.types.includes("InputFile")) raw = request.uploads.get(field.name)
      if (raw === undefined || raw === null) {
        if (field.required) throw missingField(field.name)
        continue
      }
      params[field.name] = coerce(field, raw, request.uploads)
    }
    return params
  }
}

const missingField = (name: string) => {
  switch (name) {
    case "text":
      return badRequest("message text is empty")
    case "chat_id":
      return badRequest("chat_id is empty")
    default:
      return badRequest(`parameter "${name}" is required`)
  }
}

const coerce = (field: FieldSpec, raw: unknown, uploads: ReadonlyMap<string, UploadedFile>): unknown => {
  for (const type of field.types) {
    const value = coerceTo(type, raw, uploads)
    if (value !== NO_MATCH) return value
  }
  throw badRequest(`parameter "${field.name}" must be of type ${field.types.join(" or ")}`)
}

const NO_MATCH: unique symbol = Symbol("NoMatch")

const coerceTo = (
  type: string,
  raw: unknown,
  uploads: ReadonlyMap<string, UploadedFile>
): unknown => {
  switch (type) {
    case "Integer":
      if (typeof raw === "number" && Number.isInteger(raw)) return raw
      if (typeof raw === "string" && /^-?\d+$/.test(raw.trim())) return Number(raw.trim())
      return NO_MATCH
    case "Float":
      if (typeof raw === "number") return raw
      if (typeof raw === "string" && raw.trim() !== "" && Number.isFinite(Number(raw))) return Number(raw)
      return NO_MATCH
    case "String":
      if (typeof raw === "string") return raw
      if (typeof raw === "number") return String(raw)
      return NO_MATCH
    case "Boolean":
      if (typeof raw === "boolean") return raw
      if (raw === "true" || raw === "True" || raw === "1") return true
      if (raw === "false" || raw === "False" || raw === "0") return false
      return NO_MATCH
    case "InputFile":
      if (isUploadedFile(raw)) return raw
      if (typeof raw === "string" && raw.startsWith("attach://")) {
        const upload = uploads.get(raw.slice("attach://".length))
        if (upload === undefined) throw badRequest(`file attachment "${raw}" not found in the request`)
        return upload
      }
      return NO_MATCH
    default: {
      // "Array of X" or an object type such as InlineKeyboardMarkup: JSON-serialized in forms.
      let value = raw
      if (typeof value === "string") {
        try {
          value = JSON.parse(value)
        } catch {
          throw badRequest(`can't parse ${type} JSON object`)
        }
      }
      const wantsArray = type.startsWith("Array of ")
      if (wantsArray !== Array.isArray(value) || typeof value !== "object" || value === null) return NO_MATCH
      return resolveAttachments(value, uploads)
    }
  }
}

/** Replaces nested `attach://name` strings (InputMedia) with the uploaded files they name. */
const resolveAttachments = (value: unknown, uploads: ReadonlyMap<string, UploadedFile>): unknown => {
  if (typeof value === "string" && value.startsWith("attach://")) {
    return uploads.get(value.slice("attach://".length)) ?? value
  }
  if (Array.isArray(value)) return value.map((v) => resolveAttachments(v, uploads))
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveAttachments(v, uploads)]))
  }
  return value
}
