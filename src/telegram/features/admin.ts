/**
 * Operators' commands, for ADMIN_IDS only; to everybody else they do not exist (they fall
 * through to the unknown-command answer, so a curious user learns nothing).
 * `/grant <user> <n> <note>` adjusts a user's paid credits (n may be negative).
 * `/stats` sends today's and the last 7 days' figures (UTC) in one message.
 */
import { Effect } from "effect"
import { Composer } from "grammy"
import { UserId } from "../../domain/ids.js"
import { operatorTexts } from "../../i18n/operator.js"
import { formatStats } from "../../observability/stats.js"
import { command } from "../commands.js"
import { type BotContext, type BotEnv, handler, reply } from "../context.js"

/**
 * The most one /grant moves. The ledger's and the balance's columns are 32-bit integers:
 * a typed 9999999999 would fail in the database, as a poisoned update, rather than here.
 */
export const maxGrantCredits = 1_000_000

export type ParsedGrant =
  | { readonly _tag: "Grant"; readonly user: UserId; readonly delta: number; readonly note: string }
  | { readonly _tag: "Usage" }
  | { readonly _tag: "OutOfRange" }

export const parseGrant = (args: string): ParsedGrant => {
  const match = /^\s*(\d+)\s+(-?\d+)\s+(\S.*)$/s.exec(args)
  if (match === null) return { _tag: "Usage" }
  const user = Number(match[1])
  const delta = Number(match[2])
  if (!Number.isSafeInteger(user) || user <= 0 || delta === 0) return { _tag: "Usage" }
  if (!Number.isSafeInteger(delta) || Math.abs(delta) > maxGrantCredits) return { _tag: "OutOfRange" }
  return { _tag: "Grant", user: UserId.make(user), delta, note: match[3]!.trim() }
}

export const adminFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  const admins = composer.filter((ctx) => isAdmin(env, ctx))

  admins.command(command("grant"), handler(env, "admin.grant", (ctx) =>
    Effect.gen(function*() {
      const grant = parseGrant(ctx.match)
      if (grant._tag === "Usage") return yield* reply(env, ctx, operatorTexts.grantUsage)
      if (grant._tag === "OutOfRange") return yield* reply(env, ctx, operatorTexts.grantOutOfRange(maxGrantCredits))
      if (!(yield* env.userRepo.exists(grant.user))) return yield* reply(env, ctx, operatorTexts.grantNoSuchUser(grant.user))
      const payload = {
        adjustmentId: `grant:${ctx.update.update_id}`,
        adminId: ctx.from!.id,
        delta: grant.delta,
        note: grant.note
      }
      // An admin granting to themselves is handled here: their own entity is busy with this update.
      const adjusted = grant.user === ctx.user.ops.userId
        ? ctx.user.ops.adjust(payload)
        : env.users(String(grant.user)).Adjust(payload)
      const result = yield* Effect.either(adjusted)
      if (result._tag === "Right") {
        yield* Effect.logInfo("admin adjusted a balance").pipe(
          Effect.annotateLogs({ target: grant.user, delta: grant.delta, note: grant.note })
        )
        return yield* reply(env, ctx, operatorTexts.grantDone(grant.user, grant.delta, result.right))
      }
      if (result.left._tag === "InsufficientCredits") {
        return yield* reply(env, ctx, operatorTexts.grantRefused(grant.user, result.left.available))
      }
      return yield* Effect.fail(result.left)
    })))
  // Read from the analytics views on each call: a handful of aggregate queries, run only on
  // an admin's request, so nothing is cached.
  admins.command(command("stats"), handler(env, "admin.stats", (ctx) =>
    Effect.flatMap(env.stats.current, (stats) => reply(env, ctx, formatStats(stats, ctx.lang)))))
  return composer
}

export const isAdmin = (env: BotEnv, ctx: BotContext) =>
  ctx.from !== undefined && env.config.adminIds.includes(ctx.from.id)
