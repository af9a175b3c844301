/** /history: the user's last 10 jobs with their state and date. */
import { Effect } from "effect"
import { Composer } from "grammy"
import { findModel } from "../../kie/models.js"
import { command } from "../commands.js"
import { type BotContext, type BotEnv, handler, reply } from "../context.js"

const formatDate = (date: Date | undefined) =>
  date === undefined ? "?" : date.toISOString().slice(0, 16).replace("T", " ") + " UTC"

export const historyFeature = (env: BotEnv) => {
  const composer = new Composer<BotContext>()
  composer.command(command("history"), handler(env, "history", (ctx) =>
    Effect.gen(function*() {
      const jobs = yield* env.state.recentJobs(ctx.user.ops.userId, 10)
      if (jobs.length === 0) return yield* reply(env, ctx, ctx.texts.historyEmpty)
      const lines = jobs.map((job) =>
        ctx.texts.historyLine(formatDate(job.createdAt), findModel(job.model)?.label ?? job.model, job.durationSeconds, job.state)
      )
      yield* reply(env, ctx, [ctx.texts.historyHeader, ...lines].join("\n"))
    })))
  return composer
}
