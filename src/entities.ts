/**
 * The entity layers this runner hosts, with the storage services their handlers use, and
 * the job waker singleton that wakes waiting jobs when they are due.
 */
import { Layer } from "effect"
import { JobEntityLive } from "./jobs/job-entity.js"
import { JobSteps } from "./jobs/job-steps.js"
import { JobWakerLive } from "./jobs/job-waker.js"
import { CreditLedger } from "./storage/credit-ledger.js"
import { JobRepo } from "./storage/job-repo.js"
import { UsersRepo } from "./storage/users-repo.js"
import { UserEntityLive } from "./users/user-entity.js"

export const StorageServicesLive = Layer.mergeAll(CreditLedger.Default, JobRepo.Default, UsersRepo.Default)

/** Needs the KIE services and the Telegram gateway (the job entity's driver uses them). */
export const EntitiesLive = Layer.mergeAll(UserEntityLive, JobEntityLive.pipe(Layer.provide(JobSteps.Default)), JobWakerLive).pipe(
  Layer.provideMerge(StorageServicesLive)
)
