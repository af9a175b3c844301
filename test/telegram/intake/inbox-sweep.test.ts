/**
 * The inbox with the real user entity and runner: one write per batch, each user's updates
 * handled once and in update_id order whoever wakes the entity, and the sweep handing over
 * what a lost wake or a handling that died (an outage) left behind. The bot is replaced by
 * a recorder of the updates the entity hands it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, HashMap, Layer, Logger, LogLevel, Option } from "effect"
import { UserEntity, UserUpdates } from "../../../src/protocols/user-protocol.js"
import { TelegramInbox } from "../../../src/storage/telegram-inbox.js"
import { makeSweep, stuckAge, sweepAge } from "../../../src/telegram/intake/inbox-sweep.js"
import { makeHandOver } from "../../../src/telegram/intake/updates.js"
import { dialects, freshSettings } from "../../support/database.js"
import { withStatements } from "../../support/statements.js"
import { LedgerOnlyActors, runnerLayer } from "../../support/runner.js"

const update = (updateId: number, userId: number) => ({
  update_id: updateId,
  message: { message_id: updateId, date: 0, chat: { id: userId, type: "private" }, from: { id: userId, is_bot: false, first_name: "U" }, text: "hi" }
})

/** What the entities handed the bot, per user, an outage switch for one update, and updates whose handling waits for a go. */
const recorder = () => {
  const handled = new Map<number, Array<number>>()
  const failing = new Set<number>()
  const held = new Map<number, Deferred.Deferred<void>>()
  const record = (userId: number, updateId: number) =>
    Effect.sync(() => {
      handled.set(userId, [...(handled.get(userId) ?? []), updateId])
    })
  const layer = Layer.succeed(UserUpdates, {
    notify: () => Effect.void,
    handle: (ops, received) =>
      failing.has(received.update_id)
        ? Effect.die(new Error("database unreachable"))
        : Effect.zipRight(held.get(received.update_id)?.pipe(Deferred.await) ?? Effect.void, record(ops.userId, received.update_id))
  })
  return { handled, failing, held, layer }
}

const until = (what: string, check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300; i++) {
      if (check()) return
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage(`never happened: ${what}`)
  })

/** Runs `body` with a runner on a fresh database whose user entities hand their updates to `bot`. */
const withRunner = <A, E, R>(dialect: "sqlite" | "pg", body: (bot: ReturnType<typeof recorder>) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const settings = yield* freshSettings(dialect)
    const bot = recorder()
    return yield* body(bot).pipe(Effect.provide(runnerLayer(settings, LedgerOnlyActors.pipe(Layer.provideMerge(bot.layer)))))
  }).pipe(Effect.scoped)

describe.each(dialects)("the inbox on %s", (dialect) => {
  it.live("stores a batch in one write; each user's updates are handled once, in order; a replay adds nothing", () =>
    withRunner(dialect, (bot) =>
      Effect.gen(function*() {
        const handOver = yield* makeHandOver
        const batch = [update(1, 11), update(2, 12), update(3, 11), { update_id: 4, channel_post: { text: "x" } }, update(5, 11)]
        const [stored, sent] = yield* withStatements(handOver(batch))
        assert.strictEqual(stored, 4)
        // (The entities' reads and marks run under the same transformer when they are local.)
        const writes = sent.map((text) => text.trim().split(/\s+/).slice(0, 3).join(" ")).filter((text) => text.startsWith("INSERT"))
        assert.deepStrictEqual(writes, ["INSERT INTO telegram_inbox"])
        yield* until("both users handled", () => bot.handled.get(11)?.length === 3 && bot.handled.get(12)?.length === 1)
        // Telegram sends the batch again (the offset was never confirmed) and another wake arrives.
        assert.strictEqual(yield* handOver(batch), 4)
        yield* (yield* UserEntity.client)("11").HandleInbox()
        assert.deepStrictEqual(bot.handled.get(11), [1, 3, 5])
        assert.deepStrictEqual(bot.handled.get(12), [2])
        const inbox = yield* TelegramInbox
        assert.deepStrictEqual(yield* inbox.pendingOf(11 as never, 10), [])
      })), 60_000)

  it.live("the hand-over returns once the batch is stored: a user whose handling hangs holds up no one, and rows stored meanwhile follow", () =>
    withRunner(dialect, (bot) =>
      Effect.gen(function*() {
        const handOver = yield* makeHandOver
        const go = yield* Deferred.make<void>()
        bot.held.set(61, go)
        assert.strictEqual(yield* handOver([update(61, 35), update(62, 36)]), 2)
        yield* until("the other user handled", () => bot.handled.get(36)?.length === 1)
        // 35's entity is still inside 61; 63 comes in the meantime and is not lost.
        assert.strictEqual(yield* handOver([update(63, 35)]), 1)
        assert.isUndefined(bot.handled.get(35))
        yield* Deferred.succeed(go, undefined)
        yield* until("the held user handled", () => bot.handled.get(35)?.length === 2)
        assert.deepStrictEqual(bot.handled.get(35), [61, 63])
      })), 60_000)

  it.live("each wake reads its updates and its user in one query", () =>
    withRunner(dialect, (bot) =>
      Effect.gen(function*() {
        const inbox = yield* TelegramInbox
        yield* inbox.store([51, 52].map((id) => ({ updateId: id, userId: 34, payload: JSON.stringify(update(id, 34)) })), 0)
        const [, sent] = yield* withStatements((yield* UserEntity.client)("34").HandleInbox())
        assert.deepStrictEqual(bot.handled.get(34), [51, 52])
        const reads = sent.filter((text) => text.trim().startsWith("SELECT"))
        assert.strictEqual(reads.length, 1, reads.join("\n---\n"))
        assert.match(reads[0]!, /telegram_inbox/)
        assert.match(reads[0]!, /balances/)
        // A later wake of the same activation reads the user again, in the same one query: the
        // poller may have admitted a photo of theirs meanwhile (src/telegram/intake/lone-photos.ts).
        yield* inbox.store([{ updateId: 53, userId: 34, payload: JSON.stringify(update(53, 34)) }], 0)
        const [, later] = yield* withStatements((yield* UserEntity.client)("34").HandleInbox())
        assert.deepStrictEqual(bot.handled.get(34), [51, 52, 53])
        assert.deepStrictEqual(later.filter((text) => text.trim().startsWith("SELECT")).map((text) => /balances/.test(text)), [true])
      })), 60_000)

  it.live("the sweep hands over what a lost wake and a handling that died left, still in order", () =>
    withRunner(dialect, (bot) =>
      Effect.gen(function*() {
        const inbox = yield* TelegramInbox
        const sweepOnce = yield* makeSweep
        const now = yield* Clock.currentTimeMillis
        const old = now - 2 * Duration.toMillis(sweepAge)
        // Stored, and the wake lost: nothing happens until the sweep.
        yield* inbox.store([21, 22].map((id) => ({ updateId: id, userId: 31, payload: JSON.stringify(update(id, 31)) })), old)
        // Young rows are left to their own wake.
        yield* inbox.store([{ updateId: 23, userId: 32, payload: JSON.stringify(update(23, 32)) }], now)
        assert.strictEqual(yield* sweepOnce, 1)
        yield* until("the swept user handled", () => bot.handled.get(31)?.length === 2)
        assert.deepStrictEqual(bot.handled.get(31), [21, 22])
        assert.isUndefined(bot.handled.get(32))

        // An outage kills the handling of 41: the entity dies, 41 and 42 stay in the inbox.
        bot.failing.add(41)
        yield* inbox.store([41, 42].map((id) => ({ updateId: id, userId: 33, payload: JSON.stringify(update(id, 33)) })), old)
        yield* (yield* UserEntity.client)("33").HandleInbox(undefined, { discard: true })
        yield* Effect.sleep("300 millis")
        assert.isUndefined(bot.handled.get(33))
        assert.deepStrictEqual((yield* inbox.pendingOf(33 as never, 10)).map((row) => row.updateId), [41, 42])
        // The database is back; the next sweep hands both over, 41 first.
        bot.failing.delete(41)
        yield* sweepOnce
        yield* until("the user after the outage handled", () => bot.handled.get(33)?.length === 2)
        assert.deepStrictEqual(bot.handled.get(33), [41, 42])
        // The bot records 42 before the entity marks it handled; a wake waited for runs after
        // that one (one message at a time), so the mark is in when it returns.
        yield* (yield* UserEntity.client)("33").HandleInbox()
        assert.strictEqual(yield* sweepOnce, 0)
      })), 60_000)

  it.live("the sweep names, once, a user whose update stays unhandled past the stuck age though woken", () =>
    withRunner(dialect, (bot) =>
      Effect.gen(function*() {
        const inbox = yield* TelegramInbox
        const sweepOnce = yield* makeSweep
        const warnings: Array<{ readonly message: string; readonly users: Option.Option<unknown> }> = []
        const capture = Logger.make(({ annotations, logLevel, message }) => {
          if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) {
            warnings.push({ message: String(Array.isArray(message) ? message.join(" ") : message), users: HashMap.get(annotations, "users") })
          }
        })
        const sweep = sweepOnce.pipe(Effect.provide(Logger.add(capture)))
        const now = yield* Clock.currentTimeMillis
        // 37's handling of 71 does not end (as if it waited for a message that never comes).
        const go = yield* Deferred.make<void>()
        bot.held.set(71, go)
        const stuckSince = now - Duration.toMillis(stuckAge) - 1_000
        yield* inbox.store([71, 72].map((id) => ({ updateId: id, userId: 37, payload: JSON.stringify(update(id, 37)) })), stuckSince)
        // 38 waits too, but not for long: woken, not named.
        yield* inbox.store([{ updateId: 73, userId: 38, payload: JSON.stringify(update(73, 38)) }], now - 2 * Duration.toMillis(sweepAge))
        assert.strictEqual(yield* sweep, 2)
        assert.strictEqual(warnings.length, 1)
        assert.match(warnings[0]!.message, /1 user\(s\) with an update unhandled for over 2m/)
        assert.deepStrictEqual(warnings[0]!.users, Option.some("37"))
        yield* until("the other user handled", () => bot.handled.get(38)?.length === 1)
        yield* (yield* UserEntity.client)("38").HandleInbox()

        // Still held: woken again, not named again.
        assert.strictEqual(yield* sweep, 1)
        assert.strictEqual(warnings.length, 1)
        yield* Deferred.succeed(go, undefined)
        yield* until("the held user handled", () => bot.handled.get(37)?.length === 2)
        yield* (yield* UserEntity.client)("37").HandleInbox()
        assert.strictEqual(yield* sweep, 0)
        assert.strictEqual(warnings.length, 1)
      })), 60_000)
})
