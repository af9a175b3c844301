/**
 * Everything that talks to KIE, as one layer: the client, the shared rate limiter, the
 * circuit breaker (alerting through OperatorAlerts), the submitter that puts createTask
 * behind both, and the callback URL signer.
 */
import { Layer } from "effect"
import { KieCallbackAuth } from "./callback-auth.js"
import { KieCircuitBreaker } from "./circuit-breaker.js"
import { KieClient } from "./kie-client.js"
import { KieSubmitter } from "./kie-submitter.js"
import { KieRateLimiter } from "./rate-limiter.js"

export const KieServicesLive = Layer.mergeAll(
  KieClient.Default,
  KieRateLimiter.Default,
  KieCircuitBreaker.Default,
  KieSubmitter.Default,
  KieCallbackAuth.Default
)
