/**
 * The job's settlement loop (capture or refund through the user entity), on the TestClock.
 * The stuck jobs of the chaos test came from a reply that was an interruption: the cluster
 * replays a stored reply to anyone who sends its key again, so a driver restarted at
 * attempt 0 died of it at once, silently, again and again.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, FiberId, TestClock } from "effect"
import { ClusterError, EntityAddress, EntityId, EntityType, ShardId, Snowflake } from "@effect/cluster"
import { settleWithUser } from "../../src/jobs/settle-with-user.js"
import { settlementAlertAfter, userEntityReplyTimeout } from "../../src/jobs/job-policy.js"

/** A send whose answer per attempt is given; attempts past the list never answer. */
const scripted = (answers: ReadonlyArray<Effect.Effect<string, unknown>>) => {
  const attempts: Array<number> = []
  const send = (attempt: number) =>
    Effect.suspend(() => {
      attempts.push(attempt)
      return answers[attempt] ?? Effect.never
    })
  return { attempts, send }
}

/** What the cluster hands back for a key whose stored reply is an interruption. */
const storedInterruption = Effect.failCause(Cause.interrupt(FiberId.make(4242, 0)))

const busy = new ClusterError.AlreadyProcessingMessage({
  envelopeId: Snowflake.Snowflake(BigInt(1)),
  address: EntityAddress.EntityAddress.make({
    shardId: ShardId.make("default", 1),
    entityType: EntityType.EntityType.make("User"),
    entityId: EntityId.make("1")
  })
})

describe("settleWithUser", () => {
  it.effect("a reply that is an interruption is asked again under a new key, at once", () =>
    Effect.gen(function*() {
      const { attempts, send } = scripted([storedInterruption, Effect.succeed("captured")])
      const result = yield* settleWithUser(send)
      assert.strictEqual(result, "captured")
      assert.deepStrictEqual(attempts, [0, 1])
    }))

  it.effect("no reply within the timeout: asked again under a new key", () =>
    Effect.gen(function*() {
      const { attempts, send } = scripted([Effect.never, Effect.succeed("captured")])
      const fiber = yield* Effect.fork(settleWithUser(send))
      yield* TestClock.adjust(userEntityReplyTimeout)
      assert.strictEqual(yield* Fiber.join(fiber), "captured")
      assert.deepStrictEqual(attempts, [0, 1])
    }))

  it.effect("the same key still in flight: a pause, then a new key", () =>
    Effect.gen(function*() {
      const { attempts, send } = scripted([Effect.fail(busy), Effect.succeed("captured")])
      const fiber = yield* Effect.fork(settleWithUser(send))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(attempts, [0])
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "captured")
      assert.deepStrictEqual(attempts, [0, 1])
    }))

  it.effect("an answer that is a refusal is the result: it is not asked again", () =>
    Effect.gen(function*() {
      const { attempts, send } = scripted([Effect.fail("JobAlreadySettled")])
      const exit = yield* Effect.exit(settleWithUser(send))
      assert.deepStrictEqual(exit, Exit.fail("JobAlreadySettled"))
      assert.deepStrictEqual(attempts, [0])
    }))

  it.effect("a settlement that never gets a reply asks less and less often, and alerts operators once", () =>
    Effect.gen(function*() {
      const { attempts, send } = scripted([])
      const alerts: Array<number> = []
      const fiber = yield* Effect.fork(settleWithUser(send, undefined, (unanswered) =>
        Effect.sync(() => {
          alerts.push(unanswered)
        })))
      // Asks at 0, 1, 3, 7 and 15 minutes, then every 15 minutes (one a minute before).
      yield* TestClock.adjust("15 minutes")
      assert.deepStrictEqual(attempts, [0, 1, 2, 3, 4])
      assert.deepStrictEqual(alerts, [settlementAlertAfter])
      yield* TestClock.adjust("105 minutes")
      assert.strictEqual(attempts.length, 12, "asks in two hours")
      assert.deepStrictEqual(alerts, [settlementAlertAfter], "one alert")
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("busy replies: the pause before the next key doubles", () =>
    Effect.gen(function*() {
      const { attempts, send } = scripted([Effect.fail(busy), Effect.fail(busy), Effect.fail(busy), Effect.succeed("captured")])
      const fiber = yield* Effect.fork(settleWithUser(send))
      yield* TestClock.adjust("34 seconds")
      assert.deepStrictEqual(attempts, [0, 1, 2], "asked at 0, 5 and 15 s")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "captured")
      assert.deepStrictEqual(attempts, [0, 1, 2, 3])
    }))

  it.effect("a driver that is itself stopped stops asking", () =>
    Effect.gen(function*() {
      const { attempts, send } = scripted([])
      const fiber = yield* Effect.fork(settleWithUser(send))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust(userEntityReplyTimeout)
      yield* TestClock.adjust(userEntityReplyTimeout)
      assert.deepStrictEqual(attempts, [0])
    }))
})
