/** One request to a limit: what the limiter store counts and how the caller wants an excess answered. */
import type { Duration } from "effect"

export interface LimitRequest {
  readonly key: string
  readonly limit: number
  readonly window: Duration.DurationInput
  readonly algorithm: "fixed-window" | "token-bucket"
  readonly onExceeded: "delay" | "fail"
  /** One budget for all runners together: while limits are local, each runner takes its share. */
  readonly global?: boolean
}
