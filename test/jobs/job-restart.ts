import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FiberId, HashMap, Logger, LogLevel, Option, Redacted } from "effect"
import { describeFailure } from "../../src/errors/failure-class.js"
import { runFailureLimit } from "../../src/jobs/job-policy.js"
import { SimFaults } from "../../src/sim/kie/index.js"
import type { JobState } from "../../src/domain/job-state.js"
import { type Dialect, refuseRows } from "../support/database.js"
import {
  advance,
  advanceUntil,
  inRunner,
  quickGeneration,
  reaches,
  sendPhotoAndStart,
  type Simulators,
  startSimulators,
  stateOf
} from "../support/job-harness.js"


/**
 * Simulators whose runners interrupt a step under way at once when stopped: their handlers'
 * grace period would run on the TestClock, which nothing moves while the runner's layer closes.
 */
const stoppingAtOnce = (dialect: "sqlite" | "pg") =>
  startSimulators(dialect, { ...quickGeneration, env: { ENTITY_TERMINATION_TIMEOUT: "0s" } })

/** The Bot API calls of `method` that Telegram took, to `chatId` when given. */
const taken = (sims: Simulators, method: string, chatId?: number) =>
  sims.telegram.callsOf(method).filter((call) => call.outcome.ok && (chatId === undefined || Number(call.params.chat_id) === chatId))

/** Stops the runner while the job is in `state` (held there by `hold`), then finishes it on a new runner. */
const restartIn = (
  dialect: "sqlite" | "pg",
  state: JobState,
  hold: (sims: Simulators) => void,
  release: (sims: Simulators) => void
) =>
  Effect.gen(function*() {
    const sims = yield* stoppingAtOnce(dialect)
    hold(sims)
    const jobId = yield* inRunner(sims, Effect.gen(function*() {
      const started = yield* sendPhotoAndStart(sims, 7001)
      assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, state), "6 minutes", "1 second"))
      return started.jobId
    }))
    release(sims)
    yield* inRunner(sims, Effect.gen(function*() {
      assert.isTrue(yield* advanceUntil(sims.kie, reaches(jobId, "delivered"), "8 minutes"))
      const sql = yield* SqlClient.SqlClient
      const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE job_id = ${jobId} ORDER BY id`
      assert.deepStrictEqual(kinds.map((row) => row.kind), ["reserve", "capture"])
      const balance = yield* sql<{ free_tokens: number }>`SELECT free_tokens FROM balances WHERE user_id = 7001`
      assert.strictEqual(Number(balance[0]!.free_tokens), 1)
    }))
    assert.strictEqual(sims.kie.tasks().length, 1, "one KIE task")
    assert.strictEqual(taken(sims, "sendVideo").length, 1, "one video")
  })

/** The simulator's late answers (1.5 s, real time) have landed by then, an abandoned request's too. */
const pastTheLateAnswer = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2_500)))

/** The restart suite for one database; each dialect runs it from its own file, in parallel. */
export const jobRestartSuite = (dialect: Dialect) => {
  describe(`JobEntity restarts on ${dialect}`, () => {
    it.scoped("a runner stopped while the job is submitting: the job resumes and completes once", () =>
      restartIn(
        dialect,
        "submitting",
        (sims) => sims.kie.setFaults({ upload: [SimFaults.hang] }),
        (sims) => sims.kie.resetFaults()
      ), 120_000)

    it.scoped("a runner stopped while the job is polling: no second KIE task, one video", () =>
      restartIn(dialect, "polling", () => {}, () => {}), 120_000)

    it.scoped("a runner stopped while the job is delivering: one video, captured once", () =>
      restartIn(
        dialect,
        "delivering",
        (sims) => sims.telegram.injectFault({ kind: "server_error", method: "sendVideo" }),
        (sims) => sims.telegram.faults.clear()
      ), 120_000)
  })

  describe(`A video request under way when its runner stops, on ${dialect}`, () => {
    // Telegram takes the request and posts the video, but answers late; the runner stops
    // meanwhile (a shutdown, or its shard handed to another runner). An aborted request lost
    // that answer, and the job's next run posted the video again (the chaos run saw two
    // such duplicates while shards moved to a new runner).
    it.scoped("the request is let finish and its message id kept: the next run sends no second video", () =>
      Effect.gen(function*() {
        const sims = yield* stoppingAtOnce(dialect)
        const late = sims.telegram.injectFault({ kind: "delay", ms: 1_500, method: "sendVideo", times: 1 })
        const jobId = yield* inRunner(sims, Effect.gen(function*() {
          const started = yield* sendPhotoAndStart(sims, 7003)
          // The request has reached Telegram and waits for its answer.
          assert.isTrue(yield* advanceUntil(sims.kie, () => Effect.sync(() => late.hits > 0), "6 minutes", "1 second"))
          return started.jobId
        }))
        assert.strictEqual(taken(sims, "sendVideo").length, 1, "posted once")
        yield* inRunner(sims, Effect.gen(function*() {
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(jobId, "delivered"), "8 minutes"))
          const sql = yield* SqlClient.SqlClient
          const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE job_id = ${jobId} ORDER BY id`
          assert.deepStrictEqual(kinds.map((row) => row.kind), ["reserve", "capture"])
        }))
        yield* pastTheLateAnswer
        assert.strictEqual(taken(sims, "sendVideo").length, 1, "one video")
      }), 120_000)
  })

  describe(`A progress message under way when its runner stops, on ${dialect}`, () => {
    it.scoped("its message id is kept: the job's next run posts no second progress message", () =>
      Effect.gen(function*() {
        const sims = yield* stoppingAtOnce(dialect)
        const chatId = 7004
        const late = sims.telegram.injectFault({ kind: "delay", ms: 1_500, method: "sendMessage", chatId, times: 1 })
        const posted = () => taken(sims, "sendMessage", chatId)
        const jobId = yield* inRunner(sims, Effect.gen(function*() {
          const started = yield* sendPhotoAndStart(sims, chatId)
          assert.isTrue(yield* advanceUntil(sims.kie, () => Effect.sync(() => late.hits > 0), "2 minutes", "1 second"))
          return started.jobId
        }))
        assert.strictEqual(posted().length, 1, "posted once")
        yield* inRunner(sims, Effect.gen(function*() {
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(jobId, "delivered"), "8 minutes"))
        }))
        yield* pastTheLateAnswer
        assert.strictEqual(posted().length, 1, "one progress message")
        assert.strictEqual(taken(sims, "sendVideo").length, 1, "one video")
      }), 120_000)
  })

  describe(`A failure notice under way when its runner stops, on ${dialect}`, () => {
    it.scoped("the job is marked told as Telegram answers: the next run does not tell the user again", () =>
      Effect.gen(function*() {
        const sims = yield* stoppingAtOnce(dialect)
        const chatId = 7005
        sims.kie.setFaults({ outcomes: [SimFaults.outcomes.contentPolicy] })
        const sent = () => taken(sims, "sendMessage", chatId)
        const notices = () => sent().filter((call) => String(call.params.text).includes("content policy"))
        const jobId = yield* inRunner(sims, Effect.gen(function*() {
          const started = yield* sendPhotoAndStart(sims, chatId)
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "polling"), "2 minutes", "1 second"))
          // The progress message is out; the chat's next sendMessage is the failure notice.
          assert.strictEqual(sent().length, 1, "the progress message")
          const late = sims.telegram.injectFault({ kind: "delay", ms: 1_500, method: "sendMessage", chatId, times: 1 })
          assert.isTrue(yield* advanceUntil(sims.kie, () => Effect.sync(() => late.hits > 0), "6 minutes", "1 second"))
          return started.jobId
        }))
        assert.strictEqual(notices().length, 1, "told once")
        yield* inRunner(sims, Effect.gen(function*() {
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(jobId, "refunded"), "2 minutes", "1 second"))
        }))
        yield* pastTheLateAnswer
        assert.strictEqual(notices().length, 1, "one failure notice")
      }), 120_000)
  })

  describe(`JobEntity driver defects on ${dialect}`, () => {
    // A run dies on a defect when the database goes away under it. It must start over by
    // itself after its restart pause, long before the waker's lease would wake the job.
    it.scoped("a driver that dies while its writes are refused starts over by itself and delivers once", () =>
      Effect.gen(function*() {
        const sims = yield* startSimulators(dialect, quickGeneration)
        yield* inRunner(sims, Effect.gen(function*() {
          const started = yield* sendPhotoAndStart(sims, 7201)
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "polling"), "3 minutes", "1 second"))
          const sql = yield* SqlClient.SqlClient
          // Every write to the job's row fails, as when the database goes away under the driver.
          yield* sql.onDialectOrElse({
            pg: () =>
              sql`CREATE FUNCTION refuse_job_writes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'unreachable'; END $$`.pipe(
                Effect.zipRight(sql`CREATE TRIGGER refuse_job_writes BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION refuse_job_writes()`)
              ),
            orElse: () => sql`CREATE TRIGGER refuse_job_writes BEFORE UPDATE ON jobs BEGIN SELECT RAISE(ABORT, 'unreachable'); END`
          })
          // The task finishes meanwhile: the driver's poll sees it and its write fails.
          yield* advance(sims.kie, "2 minutes", "1 second")
          assert.strictEqual(yield* stateOf(started.jobId), "polling")
          yield* sql`DROP TRIGGER refuse_job_writes${sql.onDialectOrElse({ pg: () => sql` ON jobs`, orElse: () => sql`` })}`
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "delivered"), "1 minute", "1 second"))
          const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE job_id = ${started.jobId} ORDER BY id`
          assert.deepStrictEqual(kinds.map((row) => row.kind), ["reserve", "capture"])
        }))
        assert.strictEqual(sims.kie.tasks().length, 1, "one KIE task")
        assert.strictEqual(taken(sims, "sendVideo").length, 1, "one video")
      }), 120_000)
  })

  describe(`JobEntity driver that keeps failing on ${dialect}`, () => {
    // A defect that every restart meets again (here: the write of `delivering` is refused by
    // a constraint-class trigger) must not restart the driver every 5 s for ever.
    it.scoped("backs off, gives up after the limit: the job is refunded with an apology and operators are alerted", () =>
      Effect.gen(function*() {
        const sims = yield* startSimulators(dialect, quickGeneration)
        const deaths: Array<{ readonly at: number; readonly count: unknown; readonly failure: string; readonly run: string }> = []
        const alerts: Array<string> = []
        const capture = Logger.add(Logger.make(({ annotations, cause, date, fiberId, message }) => {
          const text = String(message)
          if (text.includes("job run died")) {
            const count = Option.getOrUndefined(HashMap.get(annotations, "deaths"))
            // The failure as the supervision tells one from another, and the fiber of the
            // supervising loop: each activation of the entity counts on its own.
            const { code, detail, tag } = describeFailure(cause)
            deaths.push({ at: date.getTime(), count, failure: `${tag} ${code ?? ""} ${detail}`, run: FiberId.threadName(fiberId) })
          }
          if (text.startsWith("OPERATOR ALERT")) alerts.push(text)
        }))
        yield* inRunner(sims, Effect.gen(function*() {
          const started = yield* sendPhotoAndStart(sims, 7301)
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "polling"), "3 minutes", "1 second"))
          const sql = yield* SqlClient.SqlClient
          yield* refuseRows("refuse_delivering", "UPDATE", "jobs", "NEW.state = 'delivering'")
          // Steps of 2 s: longer jumps of the TestClock make Postgres' shard locks look expired.
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "refunded"), "8 minutes", "2 seconds"), "the job ended")
          const job = yield* sql<{ error_class: string }>`SELECT error_class FROM jobs WHERE id = ${started.jobId}`
          assert.strictEqual(job[0]!.error_class, "InternalError")
          const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE job_id = ${started.jobId} ORDER BY id`
          assert.deepStrictEqual(kinds.map((row) => row.kind), ["reserve", "refund"])
        })).pipe(Effect.provide(capture))
        // The deaths of the refused write in a row. Another failure met on the way (a loaded
        // machine's Postgres) starts the count again, as the supervision means it to, and so
        // does a new activation of the entity (its shard lost and taken again under a loaded
        // run's clock jumps: the count is the activation's); two runs dying side by side
        // would show as one long streak.
        const streak = deaths.slice(deaths.map((death) => death.count).lastIndexOf(1))
        const seen = deaths.map((death) => `${death.count}: ${death.failure} (${death.run})`).join("\n")
        const kind = (death: (typeof deaths)[number]) => death.failure.replace(/\d+/g, "#")
        assert.deepStrictEqual(streak.map((death) => death.count), Array.from({ length: runFailureLimit }, (_, i) => i + 1), seen)
        assert.strictEqual(new Set(streak.map(kind)).size, 1, `one failure in the streak:\n${seen}`)
        assert.strictEqual(new Set(streak.map((death) => death.run)).size, 1, `one activation in the streak:\n${seen}`)
        // Within an activation, a count starts again only after another failure, never for the same one.
        deaths.forEach((death, i) => {
          const previous = deaths[i - 1]
          if (previous !== undefined && death.count === 1 && death.run === previous.run) {
            assert.notStrictEqual(kind(death), kind(previous), `a reset:\n${seen}`)
          }
        })
        // Each pause as planned, plus the few clock steps the restarted driver's poll of KIE took.
        const pauses = streak.slice(1).map((death, i) => (death.at - streak[i]!.at) / 1000)
        const planned = [5, 10, 20, 30, 30, 30, 30]
        assert.isTrue(pauses.every((pause, i) => pause >= planned[i]! && pause <= planned[i]! + 6), `pauses ${pauses}`)
        assert.strictEqual(alerts.length, 1)
        assert.include(alerts[0]!, "a job's driver kept failing")
        const texts = sims.telegram.callsOf("sendMessage").map((call) => String(call.params.text))
        assert.isTrue(texts.some((text) => text.includes("Something went wrong on our side while making your video")))
        assert.strictEqual(sims.telegram.callsOf("sendVideo").length, 0)
      }), 180_000)
  })
}

/** Not about the database: run from the SQLite file only. */
export const secretsSuite = () =>
  describe("secrets stay in the process", () => {
    it.scoped("no KIE request carries the bot token and no log line carries the token or the KIE key", () =>
      Effect.gen(function*() {
        const sims = yield* startSimulators("sqlite", quickGeneration)
        const lines: Array<string> = []
        const capture = Logger.replace(
          Logger.defaultLogger,
          Logger.map(Logger.logfmtLogger, (line) => {
            lines.push(line)
          })
        )
        sims.kie.setFaults({ outcomes: [SimFaults.outcomes.generationFailed, SimFaults.outcomes.contentPolicy] })
        yield* inRunner(sims, Effect.gen(function*() {
          const started = yield* sendPhotoAndStart(sims, 7101)
          assert.isTrue(yield* advanceUntil(sims.kie, reaches(started.jobId, "refunded"), "12 minutes", "10 seconds"))
        })).pipe(Effect.provide(capture), Logger.withMinimumLogLevel(LogLevel.All))
        const token = Redacted.value(Option.getOrThrow(sims.settings.telegram.botToken))
        const key = Redacted.value(Option.getOrThrow(sims.settings.kie.apiKey))
        assert.isAbove(lines.length, 0)
        for (const line of lines) {
          assert.notInclude(line, token)
          assert.notInclude(line, key)
        }
        for (const task of sims.kie.tasks()) assert.notInclude(JSON.stringify(task), token)
        assert.notInclude(JSON.stringify(sims.kie.uploads()), token)
      }), 120_000)
  })
