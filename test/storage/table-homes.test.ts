import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return path === join("src", "storage", "migrations") || path === join("src", "sim") ? [] : sourceFiles(path)
    return entry.name.endsWith(".ts") ? [path] : []
  })

/** Each table and the one module that reads and writes it. */
const homes: Record<string, string> = {
  users: join("src", "storage", "users-repo.ts"),
  // The ledger and its balance cache move together, in one transaction.
  credit_ledger: join("src", "storage", "credit-ledger.ts"),
  balances: join("src", "storage", "credit-ledger.ts"),
  payments: join("src", "payments", "payments-repo.ts"),
  user_settings: join("src", "storage", "user-settings-repo.ts"),
  telegram_offsets: join("src", "storage", "telegram-offsets.ts"),
  reconciliation_cursors: join("src", "payments", "reconciliation-store.ts"),
  reconciliation_alerts: join("src", "payments", "reconciliation-store.ts"),
  dead_letter_updates: join("src", "storage", "dead-letter-updates.ts"),
  referrals: join("src", "growth", "referrals-repo.ts"),
  // A redemption and the use it claims move together, in one transaction.
  promo_codes: join("src", "growth", "promo-codes-repo.ts"),
  promo_redemptions: join("src", "growth", "promo-codes-repo.ts"),
  preset_offers: join("src", "storage", "preset-offers-repo.ts"),
  support_requests: join("src", "storage", "support-repo.ts"),
  support_relays: join("src", "storage", "support-repo.ts"),
  broadcasts: join("src", "storage", "broadcasts-repo.ts"),
  broadcast_recipients: join("src", "storage", "broadcasts-repo.ts")
  // jobs and job_events: src/storage/job-repo.ts, once the job views of bot-state.ts move there.
}

/**
 * Modules that may also use a homed table: admission (and the poller's batch of it) writes
 * a first contact, the reservation and the balance with the job in one statement (issue 18),
 * which no single repository can own; a user's entity loads what a photo's handling reads about its user
 * in one query (reads only); a job's write to "delivering" returns the user's balance for
 * the video's caption in the same round trip (reads only).
 */
const snapshot = join("src", "storage", "user-snapshot.ts")
const admissions = [join("src", "storage", "admission.ts"), join("src", "storage", "batch-admission.ts")]
const alsoIn: Record<string, ReadonlyArray<string>> = {
  users: [...admissions, snapshot],
  credit_ledger: admissions,
  balances: [...admissions, snapshot, join("src", "storage", "job-repo.ts")],
  user_settings: [snapshot],
  support_requests: [snapshot]
}

const statements = sourceFiles("src").flatMap((file) =>
  [...readFileSync(file, "utf8").matchAll(/\b(?:FROM|INTO|UPDATE|JOIN)\s+([a-z_]+)\b/g)].map((match) => ({ file, table: match[1]! }))
)

describe("tables", () => {
  it("each is read and written by its one repository", () => {
    const elsewhere = statements
      .filter(({ file, table }) => homes[table] !== undefined && homes[table] !== file && !alsoIn[table]?.includes(file))
      .map(({ file, table }) => `${table} in ${file}`)
    assert.deepStrictEqual(elsewhere, [])
    for (const table of Object.keys(homes)) {
      assert.isTrue(statements.some((statement) => statement.table === table), `${table} is used in its home`)
    }
  })
})
