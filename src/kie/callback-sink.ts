/**
 * Where an authentic KIE callback goes: a wake-up for the job, nothing more, since KIE
 * does not sign the body. The JobEntity's layer (src/jobs/job-entity.ts) makes the job due
 * within seconds and sends it a volatile KieCallback; tests record wake-ups instead. KIE
 * is answered 200 only once `wake` has succeeded.
 */
import { Context, type Effect } from "effect"

export interface KieWakeUp {
  readonly jobId: string
  readonly taskId: string
}

export class KieCallbackSink extends Context.Tag("app/KieCallbackSink")<KieCallbackSink, {
  readonly wake: (wakeUp: KieWakeUp) => Effect.Effect<void, unknown>
}>() {}
