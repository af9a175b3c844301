/**
 * The entity layers this runner hosts, with the storage services their handlers use, and
 * the job waker singleton that wakes waiting jobs when they are due, and the
 * broadcast sender singleton that sends admins' campaigns.
 */
import { Layer } from "effect"
import { BroadcastSenderLive } from "./broadcasts/broadcast-sender.js"
import { JobEntityLive } from "./jobs/job-entity.js"
import { ProgressMessages } from "./jobs/job-acknowledgement.js"
import { JobStartsLive } from "./jobs/job-starts.js"
import { JobSteps } from "./jobs/job-steps.js"
import { JobWakerLive } from "./jobs/job-waker.js"
import { Admission } from "./storage/admission.js"
import { CreditLedger } from "./storage/credit-ledger.js"
import { PromoCodesRepo } from "./growth/promo-codes-repo.js"
import { ReferralsRepo } from "./growth/referrals-repo.js"
import { DeadLetterUpdates } from "./storage/dead-letter-updates.js"
import { JobRepo } from "./storage/job-repo.js"
import { TelegramInbox } from "./storage/telegram-inbox.js"
import { SupportRepo } from "./storage/support-repo.js"
import { UserSnapshots } from "./storage/user-snapshot.js"
import { UserSettingsRepo } from "./storage/user-settings-repo.js"
import { UsersRepo } from "./storage/users-repo.js"
import { UserEntityLive } from "./users/user-entity.js"

export const StorageServicesLive = Layer.mergeAll(
  Admission.Default,
  UserSnapshots.Default,
  CreditLedger.Default,
  JobRepo.Default,
  TelegramInbox.Default,
  UsersRepo.Default,
  ReferralsRepo.Default,
  PromoCodesRepo.Default,
  // Written by the user's entity (src/users/user-state.ts) and erased by /forget.
  UserSettingsRepo.Default,
  SupportRepo.Default,
  DeadLetterUpdates.Default
)

/**
 * One of each per runner: the jobs' steps (with the queue of photos waiting for a transfer
 * permit), their progress messages, and how admitted jobs start.
 */
const JobServicesLive = JobStartsLive.pipe(Layer.provideMerge(JobSteps.Default), Layer.provideMerge(ProgressMessages.Default))

/** Needs the KIE services and the Telegram gateway (the job entity's driver uses them). */
export const EntitiesLive = Layer.mergeAll(
  // The waker polls waiting jobs with the same steps as their entities (src/jobs/job-waker.ts);
  // a user's admission starts its new job through them (src/jobs/job-starts.ts).
  // The poller starts the jobs it admits itself (src/telegram/intake/lone-photos.ts) through them too.
  Layer.mergeAll(UserEntityLive, JobEntityLive, JobWakerLive).pipe(Layer.provideMerge(JobServicesLive)),
  BroadcastSenderLive
).pipe(
  Layer.provideMerge(StorageServicesLive)
)
