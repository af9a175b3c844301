/**
 * Admission on both dialects: a photo of a first contact becomes its job in one statement
 * on Postgres (one short transaction on SQLite), with the profile, the free grant, the
 * reservation, the balance, the job, its event and the inbox mark; a request already known
 * and a user without room write nothing. The poller's batch of lone photos
 * (src/storage/batch-admission.ts) the same, many users at once.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Balance, ReservationSplit } from "../../src/domain/balance.js"
import { jobIdFor, UserId } from "../../src/domain/ids.js"
import { Admission, type AdmissionInput } from "../../src/storage/admission.js"
import { BatchAdmission } from "../../src/storage/batch-admission.js"
import { CreditLedger } from "../../src/storage/credit-ledger.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { firstDueAt } from "../../src/storage/job-repo.js"
import { TelegramInbox } from "../../src/storage/telegram-inbox.js"
import { UserSnapshots } from "../../src/storage/user-snapshot.js"
import { configLayer, dialects, freshSettings } from "../support/database.js"
import { withStatements } from "../support/statements.js"

/** Runs `body` on a fresh database of the dialect, with the admission and its neighbours. */
const onFreshStorage = <A, E>(
  dialect: "sqlite" | "pg",
  body: Effect.Effect<A, E, Admission | BatchAdmission | UserSnapshots | CreditLedger | TelegramInbox | SqlClient.SqlClient>
) =>
  Effect.flatMap(freshSettings(dialect), (settings) =>
    body.pipe(Effect.provide(
      Layer.mergeAll(Admission.Default, BatchAdmission.Default, UserSnapshots.Default, CreditLedger.Default, TelegramInbox.Default).pipe(
        Layer.provideMerge(DatabaseLive),
        Layer.provide(configLayer(settings))
      )
    )))

const ann = UserId.make(9_100_000_001)

const input = (requestKey: string, balance: Balance, overrides: Partial<AdmissionInput> = {}): AdmissionInput => {
  const split = new ReservationSplit({ fromFreeTokens: Math.min(1, balance.freeTokens), fromCredits: balance.freeTokens > 0 ? 0 : 1 })
  return {
    job: {
      id: jobIdFor(ann, requestKey),
      userId: ann,
      chatId: ann,
      requestKey,
      model: "kling-2.6/image-to-video",
      prompt: "waves",
      cost: 1,
      durationSeconds: 5,
      photoFileId: "photo-1",
      language: "en",
      createdAtMs: 1_000,
      uploadsReusableSinceMs: 0
    },
    split,
    expected: new Balance({ credits: balance.credits - split.fromCredits, freeTokens: balance.freeTokens - split.fromFreeTokens }),
    maxInFlight: 2,
    registration: Option.none(),
    updateId: undefined,
    nowMs: 2_000,
    ...overrides
  }
}

describe.each(dialects)("admission on %s", (dialect) => {
  it.scoped("a first contact's photo: profile, free grant, reservation, balance, job, event and inbox mark in one commit", () =>
    onFreshStorage(dialect, Effect.gen(function*() {
      const admission = yield* Admission
      const snapshots = yield* UserSnapshots
      const inbox = yield* TelegramInbox
      const sql = yield* SqlClient.SqlClient
      assert.deepStrictEqual(yield* snapshots.of(ann), {
        known: false,
        freeGranted: false,
        profile: {},
        balance: Balance.zero,
        settings: Option.none(),
        supportOpenedAtMs: Option.none()
      })
      yield* inbox.store([{ updateId: 501, userId: ann, payload: "{}" }], 1_500)

      const granted = new Balance({ credits: 0, freeTokens: 2 })
      const [outcome, sent] = yield* withStatements(admission.admit(input("msg:1:1", granted, {
        registration: Option.some({ profile: { firstName: "Ann", languageCode: "en" }, freeTokens: 2 }),
        updateId: 501
      })))
      assert.strictEqual(outcome._tag, "Admitted")
      if (outcome._tag === "Admitted") {
        assert.deepStrictEqual(outcome.balance, new Balance({ credits: 0, freeTokens: 1 }))
        // The new row as written, for the job's first run.
        assert.deepStrictEqual([outcome.job.id, outcome.job.state, Number(outcome.job.version)], [jobIdFor(ann, "msg:1:1"), "queued", 0])
        assert.strictEqual(Number(outcome.job.due_at_ms), firstDueAt(1_000))
      }
      if (dialect === "pg") assert.strictEqual(sent.length, 1, sent.join("\n---\n"))
      else assert.isAtMost(sent.length, 8)

      const snapshot = yield* snapshots.of(ann)
      assert.deepStrictEqual(snapshot, {
        known: true,
        freeGranted: true,
        profile: { firstName: "Ann", languageCode: "en" },
        balance: new Balance({ credits: 0, freeTokens: 1 }),
        settings: Option.none(),
        supportOpenedAtMs: Option.none()
      })
      const ledger = yield* CreditLedger
      assert.deepStrictEqual(yield* ledger.ledgerSumOf(ann), snapshot.balance)
      const kinds = yield* sql<{ kind: string }>`SELECT kind FROM credit_ledger WHERE user_id = ${ann} ORDER BY id`
      assert.deepStrictEqual(kinds.map((row) => row.kind), ["free_grant", "reserve"])
      const jobs = yield* sql<{ state: string }>`SELECT state FROM jobs WHERE user_id = ${ann}`
      assert.deepStrictEqual(jobs.map((row) => row.state), ["queued"])
      const events = yield* sql<{ to_state: string }>`SELECT to_state FROM job_events`
      assert.deepStrictEqual(events.map((row) => row.to_state), ["queued"])
      assert.deepStrictEqual(yield* inbox.pendingOf(ann, 10), [])

      // The same request again: its split, nothing written.
      const again = yield* admission.admit(input("msg:1:1", snapshot.balance, { updateId: 502 }))
      assert.deepStrictEqual(again, { _tag: "Known", split: new ReservationSplit({ fromFreeTokens: 1, fromCredits: 0 }) })
      assert.deepStrictEqual(yield* ledger.balanceOf(ann), snapshot.balance)
      assert.isTrue(Option.isSome(yield* admission.knownRequest(input("msg:1:1", snapshot.balance).job)))
    })), 60_000)

  it.scoped("no room: the user's unfinished jobs are counted in the same statement, and nothing is written", () =>
    onFreshStorage(dialect, Effect.gen(function*() {
      const admission = yield* Admission
      const inbox = yield* TelegramInbox
      const ledger = yield* CreditLedger
      const sql = yield* SqlClient.SqlClient
      yield* ledger.apply({ userId: ann, opKey: "grant:p1", kind: "grant", paymentId: "p1", deltaCredits: 5, deltaFree: 0 })
      const five = new Balance({ credits: 5, freeTokens: 0 })
      const first = yield* admission.admit(input("msg:1:1", five, { maxInFlight: 1 }))
      assert.strictEqual(first._tag, "Admitted")
      const four = new Balance({ credits: 4, freeTokens: 0 })
      yield* inbox.store([{ updateId: 601, userId: ann, payload: "{}" }], 1_500)
      const refused = yield* admission.admit(input("msg:1:2", four, { maxInFlight: 1, updateId: 601 }))
      assert.deepStrictEqual(refused, { _tag: "NoRoom", inFlight: 1 })
      assert.deepStrictEqual(yield* ledger.balanceOf(ann), four)
      const count = yield* sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM jobs`
      assert.strictEqual(Number(count[0]!.n), 1)
      assert.deepStrictEqual((yield* inbox.pendingOf(ann, 10)).map((row) => row.updateId), [601])

      // A finished job makes room again; without a room check there is always room.
      yield* sql`UPDATE jobs SET state = 'delivered'`
      assert.strictEqual((yield* admission.admit(input("msg:1:2", four, { maxInFlight: 1 })))._tag, "Admitted")
      // An earlier job's KIE upload of the same photo is copied to the new row while it is fresh.
      yield* sql`UPDATE jobs SET kie_file_url = 'https://kie.test/upload-1' WHERE request_key = 'msg:1:1'`
      const unchecked = yield* admission.admit(input("msg:1:3", new Balance({ credits: 3, freeTokens: 0 }), { maxInFlight: undefined }))
      assert.deepStrictEqual(unchecked._tag === "Admitted" && unchecked.balance, new Balance({ credits: 2, freeTokens: 0 }))
      const stale = input("msg:1:4", new Balance({ credits: 2, freeTokens: 0 }), { maxInFlight: undefined })
      yield* admission.admit({ ...stale, job: { ...stale.job, uploadsReusableSinceMs: 1_001 } })
      const uploads = yield* sql<{ request_key: string; kie_file_url: string | null }>`
        SELECT request_key, kie_file_url FROM jobs WHERE request_key IN ('msg:1:3', 'msg:1:4') ORDER BY request_key`
      assert.deepStrictEqual(uploads.map((row) => [row.request_key, row.kie_file_url]), [
        ["msg:1:3", "https://kie.test/upload-1"],
        ["msg:1:4", null]
      ])
      assert.deepStrictEqual(yield* ledger.ledgerSumOf(ann), yield* ledger.balanceOf(ann))
    })), 60_000)

  it.scoped("a first contact without a photo: profile and free grant in one commit, once ever", () =>
    onFreshStorage(dialect, Effect.gen(function*() {
      const admission = yield* Admission
      const ledger = yield* CreditLedger
      const registration = { profile: { firstName: "Ann" }, freeTokens: 2 }
      const [balance, sent] = yield* withStatements(admission.register(ann, registration, new Balance({ credits: 0, freeTokens: 2 })))
      assert.deepStrictEqual(balance, new Balance({ credits: 0, freeTokens: 2 }))
      if (dialect === "pg") assert.strictEqual(sent.length, 1)
      // Written again (a stale copy), the ledger's one-free-grant rule moves nothing.
      assert.deepStrictEqual(yield* admission.register(ann, registration, new Balance({ credits: 0, freeTokens: 4 })), balance)
      assert.deepStrictEqual(yield* ledger.ledgerSumOf(ann), balance)
    })), 60_000)

  it.scoped("a batch of lone photos in one statement: each user's photo as `admit` would, the inbox rows written handled", () =>
    onFreshStorage(dialect, Effect.gen(function*() {
      const admission = yield* Admission
      const ledger = yield* CreditLedger
      const inbox = yield* TelegramInbox
      const snapshots = yield* UserSnapshots
      const sql = yield* SqlClient.SqlClient
      const [bo, cy, di, ed] = [9_100_000_002, 9_100_000_003, 9_100_000_004, 9_100_000_005].map((id) => UserId.make(id))
      const photoOf = (userId: UserId, updateId: number, requestKey: string, balance: Balance, overrides: Partial<AdmissionInput> = {}) => {
        const base = input(requestKey, balance, overrides)
        return {
          ...base,
          job: { ...base.job, id: jobIdFor(userId, requestKey), userId, chatId: userId },
          unstoredUpdate: { updateId, userId, payload: JSON.stringify({ update_id: updateId }) }
        }
      }
      // Bo: a first contact. Cy: paid credits, an earlier job, a photo already known. Di: no room.
      // Ed: an update stored already (Telegram sent the batch again after a crash): not admitted again.
      yield* ledger.apply({ userId: cy, opKey: "grant:p2", kind: "grant", paymentId: "p2", deltaCredits: 3, deltaFree: 0 })
      yield* ledger.apply({ userId: di, opKey: "grant:p3", kind: "grant", paymentId: "p3", deltaCredits: 3, deltaFree: 0 })
      const three = new Balance({ credits: 3, freeTokens: 0 })
      const first = yield* admission.admit(photoOf(di, 700, "msg:di:1", three, { maxInFlight: undefined }))
      assert.strictEqual(first._tag, "Admitted")
      const known = yield* admission.admit(photoOf(cy, 701, "msg:cy:1", three))
      assert.strictEqual(known._tag, "Admitted")
      const two = new Balance({ credits: 2, freeTokens: 0 })
      yield* ledger.apply({ userId: ed, opKey: "grant:p4", kind: "grant", paymentId: "p4", deltaCredits: 3, deltaFree: 0 })
      yield* inbox.store([{ updateId: 805, userId: ed, payload: "{}" }], 1_500)

      const [admitted, sent] = yield* withStatements((yield* BatchAdmission).admitMany([
        photoOf(bo, 801, "msg:bo:1", new Balance({ credits: 0, freeTokens: 2 }), {
          registration: Option.some({ profile: { firstName: "Bo", username: "bo", languageCode: "ru" }, freeTokens: 2 })
        }),
        photoOf(cy, 802, "msg:cy:2", two),
        photoOf(cy, 803, "msg:cy:1", two),
        photoOf(di, 804, "msg:di:2", two, { maxInFlight: 1 }),
        photoOf(ed, 805, "msg:ed:1", three)
      ]))
      if (dialect === "pg") assert.strictEqual(sent.length, 1, sent.join("\n---\n"))
      assert.deepStrictEqual(admitted.map((job) => [job.id, job.state, Number(job.due_at_ms)]).sort(), [
        [jobIdFor(bo, "msg:bo:1"), "queued", firstDueAt(1_000)],
        [jobIdFor(cy, "msg:cy:2"), "queued", firstDueAt(1_000)]
      ].sort())
      assert.deepStrictEqual(yield* snapshots.of(bo), {
        known: true,
        freeGranted: true,
        profile: { firstName: "Bo", username: "bo", languageCode: "ru" },
        balance: new Balance({ credits: 0, freeTokens: 1 }),
        settings: Option.none(),
        supportOpenedAtMs: Option.none()
      })
      assert.deepStrictEqual(yield* ledger.balanceOf(cy), new Balance({ credits: 1, freeTokens: 0 }))
      assert.deepStrictEqual(yield* ledger.balanceOf(di), two)
      assert.deepStrictEqual(yield* ledger.balanceOf(ed), three)
      assert.deepStrictEqual((yield* inbox.pendingOf(ed, 10)).map((row) => row.updateId), [805])
      const alone = yield* admission.admit(photoOf(ed, 805, "msg:ed:1", three))
      assert.deepStrictEqual(alone, { _tag: "UpdateStored" })
      for (const userId of [bo, cy, di, ed]) assert.deepStrictEqual(yield* ledger.ledgerSumOf(userId), yield* ledger.balanceOf(userId))
      const rows = yield* sql<{ update_id: number | string; handled_at_ms: number | string | null }>`
        SELECT update_id, handled_at_ms FROM telegram_inbox ORDER BY update_id`
      // The admitted photos' rows, handled (700 and 701 by `admit`); the others are the caller's to store.
      assert.deepStrictEqual(
        rows.map((row) => [Number(row.update_id), Number(row.handled_at_ms)]),
        [[700, 2_000], [701, 2_000], [801, 2_000], [802, 2_000], [805, 0]]
      )
      const events = yield* sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM job_events WHERE to_state = 'queued'`
      assert.strictEqual(Number(events[0]!.n), 4)
      assert.deepStrictEqual(yield* inbox.pendingOf(bo, 10), [])
    })), 60_000)

  it.scoped("the poller's read of a batch's users: snapshots, and who has an update waiting (a first contact too)", () =>
    onFreshStorage(dialect, Effect.gen(function*() {
      const snapshots = yield* UserSnapshots
      const inbox = yield* TelegramInbox
      const ledger = yield* CreditLedger
      const [known, stranger, newcomer] = [9_100_000_011, 9_100_000_012, 9_100_000_013]
      yield* ledger.apply({ userId: UserId.make(known), opKey: "grant:p9", kind: "grant", paymentId: "p9", deltaCredits: 4, deltaFree: 0 })
      const before = yield* snapshots.ofMany([known, stranger, newcomer])
      assert.deepStrictEqual([...before.keys()], [known])
      assert.deepStrictEqual([before.get(known)!.balance, before.get(known)!.waiting], [new Balance({ credits: 4, freeTokens: 0 }), false])
      yield* inbox.store([{ updateId: 901, userId: known, payload: "{}" }, { updateId: 902, userId: newcomer, payload: "{}" }], 1)
      const after = yield* snapshots.ofMany([known, stranger, newcomer])
      assert.deepStrictEqual([...after.entries()].map(([id, s]) => [id, s.known, s.waiting]).sort(), [[known, true, true], [newcomer, false, true]])
      yield* inbox.markHandled(901, 2)
      assert.isFalse((yield* snapshots.ofMany([known])).get(known)!.waiting)
    })), 60_000)
})
