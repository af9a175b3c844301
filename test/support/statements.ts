/** What a test counts of the SQL an effect sends. */
import { Statement } from "@effect/sql"
import { Effect } from "effect"

/** Runs `effect` and returns its result with the SQL text of every statement it sent, in order. */
export const withStatements = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const sent: Array<string> = []
    const result = yield* effect.pipe(Statement.withTransformer((statement) =>
      Effect.sync(() => {
        sent.push(statement.compile()[0])
        return statement
      })
    ))
    return [result, sent] as const
  })
