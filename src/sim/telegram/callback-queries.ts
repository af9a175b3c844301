/**
 * Callback queries created when a simulated user presses an inline button, and the bot's answers.
 * Each query can be answered once; an unknown or already answered id gets the real 400.
 */
import { queryTooOld } from "./api-error.js"
import { userQueryId } from "./ids.js"
import type { Params } from "./spec-validation.js"

export interface CallbackAnswer {
  readonly queryId: string
  readonly text: string | undefined
  readonly showAlert: boolean
  readonly url: string | undefined
  readonly at: number
}

interface Pending {
  readonly resolvers: Array<(answer: CallbackAnswer) => void>
}

export class CallbackQueries {
  private counter = 0
  private readonly pending = new Map<string, Pending>()
  private readonly answered = new Map<string, CallbackAnswer>()

  open(userId: number): string {
    const id = userQueryId(userId, ++this.counter)
    this.pending.set(id, { resolvers: [] })
    return id
  }

  answer(params: Params): true {
    const queryId = String(params["callback_query_id"])
    const pending = this.pending.get(queryId)
    if (pending === undefined) throw queryTooOld()
    const text = params["text"] as string | undefined
    if (text !== undefined && [...text].length > 200) throw queryTooOld()
    const answer: CallbackAnswer = {
      queryId,
      text,
      showAlert: params["show_alert"] === true,
      url: params["url"] as string | undefined,
      at: Date.now()
    }
    this.pending.delete(queryId)
    this.answered.set(queryId, answer)
    for (const resolve of pending.resolvers) resolve(answer)
    return true
  }

  answers(): Array<CallbackAnswer> {
    return [...this.answered.values()]
  }

  unanswered(): Array<string> {
    return [...this.pending.keys()]
  }

  /** Resolves when the bot answers the query (at once if it already has). */
  waitForAnswer(queryId: string, timeoutMs: number): Promise<CallbackAnswer> {
    const done = this.answered.get(queryId)
    if (done !== undefined) return Promise.resolve(done)
    const pending = this.pending.get(queryId)
    if (pending === undefined) return Promise.reject(new Error(`unknown callback query ${queryId}`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`callback query ${queryId} not answered within ${timeoutMs} ms`)), timeoutMs)
      pending.resolvers.push((answer) => {
        clearTimeout(timer)
        resolve(answer)
      })
    })
  }
}
