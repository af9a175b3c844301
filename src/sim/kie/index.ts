/**
 * The KIE simulator as a scoped Effect resource: started on a free loopback port,
 * stopped when the scope closes.
 */
import { Effect, type Scope } from "effect"
import { type KieSimOptions, type KieSimulator, startKieSimulator } from "./simulator.js"

export * as SimFaults from "./faults.js"
export * from "./simulator.js"

export const kieSimulator = (options: KieSimOptions = {}): Effect.Effect<KieSimulator, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startKieSimulator(options)),
    (sim) => Effect.promise(() => sim.close())
  )
