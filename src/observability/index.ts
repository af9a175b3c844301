/**
 * What the composition root provides for operators: the logger, and the /metrics and
 * /dashboard routes (given to the HTTP server with the other routes).
 */
import { Layer } from "effect"
import { DashboardRoutes } from "../http/dashboard.js"
import { MetricsRoutes } from "../http/metrics.js"

export { LoggingLive, withSecretsRedacted } from "./logging.js"
export { StatsService, statsText } from "./stats.js"

export const ObservabilityRoutes = Layer.mergeAll(MetricsRoutes, DashboardRoutes)
