/**
 * The error answers of the Bot API, as `{ ok: false, error_code, description, parameters? }`.
 * Every rejection of the simulator is an `ApiError`, thrown by a handler and rendered by the server.
 */
export interface ResponseParameters {
  readonly retry_after?: number
  readonly migrate_to_chat_id?: number
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: ResponseParameters
  ) {
    super(description)
    this.name = "ApiError"
  }

  toJSON(): Record<string, unknown> {
    return {
      ok: false,
      error_code: this.code,
      description: this.description,
      ...(this.parameters === undefined ? {} : { parameters: this.parameters })
    }
  }
}

export const badRequest = (reason: string): ApiError => new ApiError(400, `Bad Request: ${reason}`)
export const unauthorized = (): ApiError => new ApiError(401, "Unauthorized")
export const forbidden = (reason: string): ApiError => new ApiError(403, `Forbidden: ${reason}`)
export const notFound = (): ApiError => new ApiError(404, "Not Found")
export const conflict = (reason: string): ApiError => new ApiError(409, `Conflict: ${reason}`)
export const entityTooLarge = (): ApiError => new ApiError(413, "Request Entity Too Large")
export const tooManyRequests = (retryAfter: number): ApiError =>
  new ApiError(429, `Too Many Requests: retry after ${retryAfter}`, { retry_after: retryAfter })
export const serverError = (code = 500): ApiError =>
  new ApiError(code, code === 502 ? "Bad Gateway" : code === 503 ? "Service Unavailable" : "Internal Server Error")

export const chatNotFound = (): ApiError => badRequest("chat not found")
export const queryTooOld = (): ApiError =>
  badRequest("query is too old and response timeout expired or query ID is invalid")
