/**
 * A user's state inside its entity: loaded by the message that needs it (never in the
 * entity's build, see ./user-entity.ts), read again by each message that decides from it
 * (the poller may have admitted a photo meanwhile), and put back when a transaction rolls back.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Option } from "effect"
import { Balance } from "../domain/balance.js"
import type { UserId } from "../domain/ids.js"
import { profileChanged, type UserProfile } from "../domain/user-profile.js"
import type { ChosenSettings } from "../domain/user-settings.js"
import { AppConfig } from "../config/index.js"
import { Registered } from "../protocols/user-protocol.js"
import { Admission, type Registration } from "../storage/admission.js"
import { SupportRepo } from "../storage/support-repo.js"
import { UserSnapshots } from "../storage/user-snapshot.js"
import { UserSettings, UserSettingsRepo } from "../storage/user-settings-repo.js"
import { UsersRepo } from "../storage/users-repo.js"

export interface UserState {
  balance: Balance
  freeGranted: boolean
  profile: UserProfile
  /** A first contact not yet written; its free tokens are already in `balance`. */
  pending: Option.Option<Registration>
  freshGrant: number
  settings: Option.Option<ChosenSettings>
  supportOpenedAtMs: Option.Option<number>
  /** A write of those two failed and may have committed: the next read asks the database. */
  unsure: boolean
}

export const makeUserState = (userId: UserId) =>
  Effect.gen(function*() {
    const admission = yield* Admission
    const snapshots = yield* UserSnapshots
    const usersRepo = yield* UsersRepo
    const settingsRepo = yield* UserSettingsRepo
    const supportRepo = yield* SupportRepo
    const sql = yield* SqlClient.SqlClient
    const { freeTokens } = yield* AppConfig

    // A message that decides from the copy reads it first (./user-entity.ts). The poller
    // admits a photo of this user only while none of their updates waits
    // (src/telegram/intake/lone-photos.ts), so no admission of its lands during an update's
    // handling; one may land beside another message (an operator's adjustment, say), whose
    // decision from the copy then meets the database's CHECK constraints: it fails rather
    // than overdraws. Captures, refunds and grants keep the balance the database returns.
    let state: UserState | undefined
    const fromSnapshot = (snapshot: Effect.Effect.Success<ReturnType<typeof snapshots.of>>): UserState => {
      state = { ...snapshot, pending: Option.none(), freshGrant: 0, unsure: false }
      return state
    }
    const loaded = Effect.suspend(() => state !== undefined ? Effect.succeed(state) : Effect.map(snapshots.of(userId), fromSnapshot))

    /**
     * The user's first `limit` waiting updates and the user, read again, in one query: what
     * each wake reads (the poller may have admitted a photo since the last one).
     */
    const readWithPendingUpdates = (limit: number) =>
      Effect.map(snapshots.withPendingUpdates(userId, limit), ({ pending, snapshot }) => {
        fromSnapshot(snapshot)
        return pending
      })
    const currentBalance = Effect.map(loaded, (s) => s.balance)

    // A transaction that rolls back takes its changes out of the copy too: a failed update
    // is handled again in this same activation (src/telegram/update-failures.ts).
    const transactional = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.flatMap(loaded, (s) => {
        const before = { ...s }
        return sql.withTransaction(effect).pipe(Effect.onError(() => Effect.sync(() => Object.assign(s, before))))
      })

    /** Writes a pending first contact (profile and free grant) in one commit. */
    const flushRegistration = Effect.gen(function*() {
      const s = yield* loaded
      if (Option.isNone(s.pending)) return
      s.balance = yield* admission.register(userId, s.pending.value, s.balance)
      s.pending = Option.none()
      s.freeGranted = true
    })

    const registerDeferred = Effect.fnUntraced(function*(_requestKey: string, profile: UserProfile) {
      const s = yield* loaded
      if (!s.freeGranted && Option.isNone(s.pending)) {
        s.pending = Option.some({ profile, freeTokens })
        s.balance = new Balance({ credits: s.balance.credits, freeTokens: s.balance.freeTokens + freeTokens })
        s.freshGrant = freeTokens
        s.profile = profile
        return new Registered({ balance: s.balance, newlyGranted: true })
      }
      if (Option.isNone(s.pending) && profileChanged(s.profile, profile)) {
        yield* usersRepo.saveProfile(userId, profile)
        s.profile = { ...s.profile, ...profile }
      }
      return new Registered({ balance: s.balance, newlyGranted: false })
    }, Effect.orDie)

    const takeFreshGrant = Effect.map(loaded, (s) => {
      const fresh = s.freshGrant
      s.freshGrant = 0
      return fresh
    }).pipe(Effect.orDie)

    const reload = Effect.sync(() => {
      state = undefined
    })

    // The /settings choice and the support request: a photo asks for both, and kept here they
    // cost no query of their own (the user's updates are their only writers, and each runs in
    // this entity). A write that fails may still have committed: the next read asks again.
    const checked = Effect.flatMap(loaded, (s) =>
      !s.unsure ? Effect.succeed(s) : Effect.map(snapshots.of(userId), (fresh) => {
        s.settings = fresh.settings
        s.supportOpenedAtMs = fresh.supportOpenedAtMs
        s.unsure = false
        return s
      }))
    // The outcome is recorded whatever ends the write, an interruption included. These writes
    // stay outside `transactional`: a rollback would put back the state from before the mark.
    const writing = <E>(write: Effect.Effect<void, E>, apply: (s: UserState) => void) =>
      Effect.flatMap(checked, (s) =>
        write.pipe(Effect.onExit((exit) =>
          Effect.sync(() => {
            if (Exit.isSuccess(exit)) apply(s)
            else s.unsure = true
          })
        )))
    const settingsAndSupport = {
      settings: Effect.map(checked, (s) => s.settings),
      saveSettings: (chosen: ChosenSettings) => {
        const row = new UserSettings(chosen)
        return writing(settingsRepo.save(userId, row), (s) => {
          s.settings = Option.some(row)
        })
      },
      supportOpenedAt: Effect.map(checked, (s) => s.supportOpenedAtMs),
      openSupport: (nowMs: number) =>
        writing(supportRepo.open(userId, nowMs), (s) => {
          s.supportOpenedAtMs = Option.some(nowMs)
        }),
      closeSupport: writing(supportRepo.close(userId), (s) => {
        s.supportOpenedAtMs = Option.none()
      })
    }

    return {
      loaded,
      readWithPendingUpdates,
      currentBalance,
      transactional,
      flushRegistration,
      registerDeferred,
      takeFreshGrant,
      reload,
      settingsAndSupport
    } as const
    })
