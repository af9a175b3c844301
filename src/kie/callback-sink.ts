/**
 * Where an authentic KIE callback goes: a wake-up for the job, nothing more, since KIE
 * does not sign the body. The JobEntity implements it by sending itself its KieCallback
 * message; until then any implementation (or the test recorder) can stand in.
 */
import { Context, Effect, Layer } from "effect"

export interface KieWakeUp {
  readonly jobId: string
  readonly taskId: string
}

export class KieCallbackSink extends Context.Tag("app/KieCallbackSink")<KieCallbackSink, {
  readonly wake: (wakeUp: KieWakeUp) => Effect.Effect<void, unknown>
}>() {
  /** Until the JobEntity is wired: the poller will find the result anyway. */
  static readonly LogOnly = Layer.succeed(KieCallbackSink, {
    wake: (wakeUp) => Effect.logInfo("KIE callback received; no job sink wired yet").pipe(Effect.annotateLogs({ ...wakeUp }))
  })
}
