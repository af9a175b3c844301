/**
 * How the payment flow reaches a user's credits: always through that user's UserEntity.
 * `forUser` sends it messages; `fromOps` calls the entity's own functions, for code that
 * already runs inside that entity (a bot handler), where a message to itself would wait
 * behind the update being handled.
 */
import { Effect } from "effect"
import { UserEntity, type UserOps } from "../protocols/user-protocol.js"
import type { Balance } from "../domain/balance.js"
import type { RevokeError } from "../errors/payment-errors.js"

export interface CreditPort {
  /** Grant keyed by the payment's charge id: at most once per payment, ever. */
  readonly grant: (paymentId: string, credits: number) => Effect.Effect<Balance>
  /** Takes back a payment's credits if still unspent; keyed by the refund request. */
  readonly revoke: (requestKey: string, paymentId: string) => Effect.Effect<Balance, RevokeError>
}

const clusterFailuresAreDefects = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  effect.pipe(
    Effect.catchIf(
      (error): error is Extract<E, { _tag: "MailboxFull" | "AlreadyProcessingMessage" | "PersistenceError" }> =>
        error._tag === "MailboxFull" || error._tag === "AlreadyProcessingMessage" || error._tag === "PersistenceError",
      (error) => Effect.die(error)
    )
  )

export class UserCredits extends Effect.Service<UserCredits>()("app/UserCredits", {
  effect: Effect.gen(function*() {
    const users = yield* UserEntity.client
    const forUser = (userId: number): CreditPort => {
      const user = users(String(userId))
      return {
        grant: (paymentId, credits) => clusterFailuresAreDefects(user.Grant({ paymentId, credits })),
        revoke: (requestKey, paymentId) => clusterFailuresAreDefects(user.RevokePayment({ requestKey, paymentId }))
      }
    }
    return { forUser } as const
  })
}) {}

/** The port for the user whose entity runs the caller. */
export const fromOps = (ops: UserOps): CreditPort => ({
  grant: ops.grant,
  revoke: ops.revokePayment
})

/** Inside a user's entity: that user through `ops`, anyone else through their entity. */
export const creditsResolver = (ops: UserOps, credits: UserCredits) => (userId: number): CreditPort =>
  userId === ops.userId ? fromOps(ops) : credits.forUser(userId)
