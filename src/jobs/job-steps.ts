/**
 * Runs the job's state machine (./job-machine.ts): feeds it an event, writes the state it
 * returns (one guarded statement, with the next due time), then does its commands with the
 * interpreters in ./job-work.ts, whose outcomes are the next events. A run ends when the
 * job waits (for KIE, or for an operator) or is finished; whatever wakes it next starts a
 * new run from the row.
 */
import { Clock, Effect, Either, Option } from "effect"
import type { Balance } from "../domain/balance.js"
import { type JobId, UserId } from "../domain/ids.js"
import { makeReferralQualification } from "../growth/referral-qualification.js"
import { recordDelivery, recordJobRefunded } from "../observability/metrics.js"
import { makeGroupCommit } from "../storage/group-commit.js"
import { type JobChanges, type JobRecord, JobRepo } from "../storage/job-repo.js"
import {
  type Command,
  IllegalTransition,
  isFinished,
  type MachineEvent,
  type MachineState,
  type PollResult,
  transition
} from "./job-machine.js"
import { wakeLeaseMs } from "./job-policy.js"
import { columnsOf, machineStateOf, pollingColumnsOf } from "./job-row.js"
import { makeJobWork, type RunContext } from "./job-work.js"

/** The most polls one statement writes (a JSON parameter of some 200 bytes each). */
const pollsPerStatement = 256

/** What a run outside the entity may do: ask KIE, log, edit the progress message, sleep. */
const isPollingCommand = (command: Command): boolean =>
  command._tag === "Poll" || command._tag === "Log" || command._tag === "WakeAt" || (command._tag === "Show" && !command.force)

const describe = (event: MachineEvent): string | null => {
  switch (event._tag) {
    case "TaskCreated":
      return `task ${event.taskId}`
    case "SubmitFailed":
      return event.failure._tag
    case "VideoFailed":
      return `DeliveryFailed ${event.reason}`
    case "Polled":
      return event.result._tag === "Failed" ? event.result.error.message : null
    default:
      return event._tag
  }
}

export class JobSteps extends Effect.Service<JobSteps>()("app/JobSteps", {
  scoped: Effect.gen(function*() {
    const repo = yield* JobRepo
    // A job is polled about eight times while KIE generates, and a poll that finds nothing
    // new only writes when it is due next. Those of the runner's runs (the waker's, the
    // entities') that end while one write is under way are written together in the next
    // statement: one commit for dozens of polls under load, none later when idle.
    const writePoll = yield* makeGroupCommit(repo.advancePolls, pollsPerStatement)
    const work = yield* makeJobWork
    const referrals = yield* makeReferralQualification

    /**
     * Runs `jobId` from its stored row, first with `first` (a wake-up when undefined).
     * Returns the row's state when the run stopped, none when there is no such job.
     */
    const run = (
      jobId: JobId,
      acknowledgement: RunContext["acknowledgement"],
      first?: MachineEvent,
      options: {
        /** Take `first` and write it with the job due now, but leave its work to the next wake-up. */
        readonly eventOnly?: boolean | undefined
        /** The row as the caller has just read it (the waker's claim), instead of reading it again. */
        readonly row?: JobRecord | undefined
        /**
         * Run only while the job polls (./job-waker.ts, outside the job's entity): at a
         * transition whose commands need more than a poll, a log line and a progress edit, the
         * run stops without writing it and calls `handOver`, which wakes the entity to act on
         * it (with the video found, see `found`; other news the entity asks KIE about again).
         * `row` is the job's row as this run last read or wrote it: nothing is staged at that
         * point (only a submission and a video stage checkpoints), so it is the stored row.
         */
        readonly pollsOnly?: {
          readonly handOver: (state: MachineState, event: MachineEvent, row: JobRecord) => Effect.Effect<void>
        } | undefined
        /** A poll of this task already made (the waker's): the run's first poll of it takes its answer. */
        readonly found?: { readonly taskId: string; readonly result: PollResult } | undefined
      } = {}
    ) => Effect.suspend(() => {
      // The version this run last read or wrote: an interrupted run (a shutdown, a Cancel)
      // makes the job due at once, unless someone moved it meanwhile.
      let held: number | undefined
      let holdCommands = options.eventOnly === true
      let found = options.found
      // Checkpoints inside a step (the KIE copy of the photo, the video's message id) ride on
      // the step's own write, one commit instead of two. Whatever no write took is written
      // on its own when the run stops, as each was before.
      let staged: JobChanges = {}
      const flushStaged = Effect.suspend(() => {
        const changes = staged
        staged = {}
        return Object.keys(changes).length === 0 ? Effect.void : Effect.ignore(repo.update(jobId, changes))
      })
      return Effect.gen(function*() {
        const stored = options.row === undefined ? yield* repo.get(jobId) : Option.some(options.row)
        if (Option.isNone(stored)) return Option.none<MachineState>()
        let row = stored.value
        held = row.version
        let state = yield* Effect.orDie(machineStateOf(row))
        let balance: Balance | undefined
        const stage = (changes: JobChanges) =>
          Effect.sync(() => {
            staged = { ...staged, ...changes }
          })

        const runCommand = (command: Command): Effect.Effect<boolean> => {
          const context: RunContext = { row, state, acknowledgement, feed, stage, balance }
          switch (command._tag) {
            case "WakeAt":
              return Effect.succeed(true)
            case "Log":
              return (command.level === "error" ? Effect.logError(command.message) : Effect.logWarning(command.message))
                .pipe(Effect.as(true))
            case "Show":
              return work.show(context, command.text, command.force).pipe(Effect.as(true))
            case "Submit":
              return work.submit(context)
            case "Poll": {
              const answer = found?.taskId === command.taskId ? found.result : undefined
              found = undefined
              return work.poll(context, command.taskId, command.lastChance, answer)
            }
            case "SendVideo":
              return work.sendVideo(context, command.resultUrl)
            case "Refund":
              return work.refund(context, command.failure)
            case "Tell":
              return work.tell(context, command.failure, command.refunded)
          }
        }

        function feed(event: MachineEvent): Effect.Effect<boolean> {
          return Effect.gen(function*() {
            const next = transition(state, event)
            if (next instanceof IllegalTransition) {
              // A stale message (a Cancel after submission, a late answer): its work is dropped.
              yield* Effect.logDebug(next.message)
              return false
            }
            const wakeAt = next.commands.find((command) => command._tag === "WakeAt")
            if (options.pollsOnly !== undefined && !next.commands.every(isPollingCommand)) {
              yield* options.pollsOnly.handOver(state, event, row)
              return false
            }
            const now = yield* Clock.currentTimeMillis
            if (next.state !== state || wakeAt !== undefined) {
              const columns = columnsOf(next.state, row.state)
              const extra: JobChanges = next.state._tag === "Delivering" && state._tag === "Polling"
                ? { kie_succeeded_at_ms: Math.floor(now) }
                : {}
              // The lease: if this run dies before its next write, the waker wakes the job then.
              // A run never goes on to a wake-up it asks for, however soon: the waker makes it.
              const leased = !isFinished(next.state) && wakeAt === undefined && !holdCommands
              const dueAtMs = isFinished(next.state) ? null : wakeAt?.atMs ?? (holdCommands ? now : now + wakeLeaseMs)
              const changes: JobChanges = { ...staged, ...columns.changes, ...extra }
              // A poll that leaves the job polling goes with the others of the moment (below).
              const written = yield* (next.state._tag === "Polling" && row.state === "polling" && dueAtMs !== null &&
                  Object.keys(staged).length === 0
                ? writePoll({
                  jobId,
                  version: row.version,
                  columns: pollingColumnsOf(next.state),
                  dueAtMs,
                  leasedAtMs: leased ? now : null
                }).pipe(Effect.map((ok) => ok && { balance: undefined }))
                : repo.advance(jobId, { version: row.version, state: row.state }, {
                  state: columns.state,
                  changes,
                  dueAtMs,
                  leasedAtMs: leased ? now : null,
                  detail: describe(event)
                })).pipe(Effect.orDie)
              if (!written) {
                yield* Effect.logDebug("the job moved on elsewhere; this run stops")
                return false
              }
              staged = {}
              balance = written.balance ?? balance
              const previous = state
              row = Object.assign(Object.create(Object.getPrototypeOf(row)), row, changes, {
                state: columns.state,
                version: row.version + 1,
                due_at_ms: dueAtMs
              }) as JobRecord
              held = row.version
              if (next.state._tag === "Delivered") {
                yield* recordDelivery(row)
                yield* referrals.qualify(UserId.make(row.user_id), "delivered")
              }
              if ((next.state._tag === "Refunded" || next.state._tag === "Failed") && previous._tag === "Refunding") {
                yield* recordJobRefunded(previous.failure._tag)
              }
            }
            state = next.state
            if (holdCommands) {
              holdCommands = false
              return false
            }
            for (const command of next.commands) {
              if (!(yield* runCommand(command))) return false
            }
            return true
          })
        }

        const wake = Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const breakerOpen = yield* work.breakerOpen
          return yield* feed({ _tag: "Wake", now, createdAtMs: Number(row.created_at_ms ?? now), breakerOpen })
        })

        yield* work.acknowledge({ row, state, acknowledgement })
        // A new job whose photo has to wait for a transfer permit stays queued, and out of
        // memory, until the photo is at KIE; the transfer wakes it then (./photo-uploads.ts).
        if (
          first === undefined && options.pollsOnly === undefined && state._tag === "Queued" &&
          !(yield* work.breakerOpen) && !(yield* work.readyToSubmit(row))
        ) return Option.some(state)
        yield* (first === undefined ? wake : feed(first))
        return Option.some(state)
      }).pipe(
        Effect.ensuring(flushStaged),
        Effect.onInterrupt(() => held === undefined ? Effect.void : Effect.ignore(repo.release(jobId, held))),
        Effect.orDie,
        Effect.annotateLogs({ jobId }),
        Effect.withSpan("JobSteps.run", { attributes: { jobId } })
      )
    })

    /**
     * For a job just admitted, before its entity is woken: true when its photo has to wait
     * for a transfer permit, and so it waits in the queue (./photo-uploads.ts) with its
     * progress message posted, out of memory; false when its run should start now.
     */
    const queueNew = (row: JobRecord, acknowledgement: RunContext["acknowledgement"]) =>
      Effect.gen(function*() {
        const state = Either.getOrUndefined(machineStateOf(row))
        if (state?._tag !== "Queued" || state.paused || (yield* work.breakerOpen)) return false
        if (yield* work.readyToSubmit(row)) return false
        yield* work.acknowledge({ row, state, acknowledgement })
        return true
      }).pipe(Effect.annotateLogs({ jobId: row.id }))

    /** The machine's state as stored (for answers that need no run). */
    const stateOf = (jobId: JobId) =>
      Effect.map(repo.get(jobId), Option.map((row) => Either.getOrUndefined(machineStateOf(row)))).pipe(Effect.orDie)

    return { run, queueNew, stateOf } as const
  })
}) {}
