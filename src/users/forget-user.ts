/**
 * /forget (src/protocols/user-protocol.ts, `Forget`): what the privacy text promises to
 * delete, in one transaction. Kept, as the law requires: `credit_ledger`, `balances`,
 * `payments`, and the job rows the ledger refers to, without their content. The user's
 * processed updates in the cluster's message table go too (src/storage/retention.ts);
 * the update being handled (the one that asked, for an admin forgetting themselves) stays
 * until retention prunes it.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { UserId } from "../domain/ids.js"
import { ForgetReport, UserEntity } from "../protocols/user-protocol.js"
import { DeadLetterUpdates } from "../storage/dead-letter-updates.js"
import { JobRepo } from "../storage/job-repo.js"
import { forgetProcessedUpdates } from "../storage/retention.js"
import { SupportRepo } from "../storage/support-repo.js"
import { UserSettingsRepo } from "../storage/user-settings-repo.js"
import { UsersRepo } from "../storage/users-repo.js"

export const makeForgetUser = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const users = yield* UsersRepo
  const settings = yield* UserSettingsRepo
  const jobs = yield* JobRepo
  const support = yield* SupportRepo
  const deadLetters = yield* DeadLetterUpdates

  return (userId: UserId) =>
    Effect.gen(function*() {
      const profile = yield* users.forgetProfile(userId)
      const hadSettings = yield* settings.forget(userId)
      const content = yield* jobs.forgetContent(userId)
      const supportRecords = yield* support.forget(userId)
      const setAsideUpdates = yield* deadLetters.forget(userId)
      const updates = yield* forgetProcessedUpdates(UserEntity.type, String(userId)).pipe(
        Effect.provideService(SqlClient.SqlClient, sql)
      )
      const report = new ForgetReport({
        profile,
        settings: hadSettings,
        jobs: content.erased,
        unfinishedJobs: content.unfinished,
        supportRecords,
        setAsideUpdates,
        updates
      })
      yield* Effect.logInfo("user data forgotten").pipe(Effect.annotateLogs({ ...report }))
      return report
    }).pipe(sql.withTransaction, Effect.orDie, Effect.annotateLogs({ userId }))
})
