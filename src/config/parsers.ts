/**
 * Generic readers of environment variables. Each turns a bad value into a ConfigError
 * naming the variable and what it expects (`describeConfigError` prints it as one line);
 * the domain rules live in the feature modules beside this one.
 */
import { Config, ConfigError, Either, Option, Redacted } from "effect"

export const invalid = (name: string, expected: string, got: string) =>
  ConfigError.InvalidData([], `${name} must be ${expected}, got "${got}"`)

/** Reads `parse`'s value; `undefined` from `parse` means the value is not what `expected` says. */
type Parse<A> = (raw: string) => A | undefined

const checked = <A>(name: string, expected: string, parse: Parse<A>) => (raw: string) => {
  const value = parse(raw)
  return value === undefined ? Either.left(invalid(name, expected, raw)) : Either.right(value)
}

/** `name`, or `fallback` when it is unset, read by `parse`. */
export const parsed = <A>(name: string, fallback: string, expected: string, parse: Parse<A>): Config.Config<A> =>
  Config.string(name).pipe(Config.withDefault(fallback), Config.mapOrFail(checked(name, expected, parse)))

/** `name` read by `parse`; unset or blank: none. */
export const optionalParsed = <A>(name: string, expected: string, parse: Parse<A>): Config.Config<Option.Option<A>> =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail((raw) =>
      Option.isNone(raw) || raw.value.trim() === ""
        ? Either.right(Option.none<A>())
        : Either.map(checked(name, expected, parse)(raw.value), Option.some)
    )
  )

/** A secret; unset or blank: none. `refusal` says what a bad one must be, never echoing it. */
export const optionalRedacted = (
  name: string,
  refusal: (value: string) => string | undefined = () => undefined
): Config.Config<Option.Option<Redacted.Redacted<string>>> =>
  Config.option(Config.redacted(name)).pipe(
    Config.map(Option.filter((value) => Redacted.value(value).trim() !== "")),
    Config.mapOrFail((secret) => {
      const expected = Option.isSome(secret) ? refusal(Redacted.value(secret.value)) : undefined
      return expected === undefined
        ? Either.right(secret)
        : Either.left(ConfigError.InvalidData([], `${name} must be ${expected}`))
    })
  )

export const within = (value: number | undefined, min: number, max: number): number | undefined =>
  value !== undefined && value >= min && value <= max ? value : undefined

const wholeNumber = (raw: string): number | undefined => {
  const trimmed = raw.trim()
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : undefined
}

export const integerIn = (name: string, min: number, max: number, fallback: number) =>
  parsed(name, String(fallback), `a whole number from ${min} to ${max}`, (raw) => within(wholeNumber(raw), min, max))

/** "6s", "500ms", "1m" or a bare number of seconds, in milliseconds. */
export const parseDuration = (raw: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(raw.trim())
  if (!match) return undefined
  const value = Number(match[1])
  const unit = match[2] ?? "s"
  return Math.round(unit === "ms" ? value : unit === "s" ? value * 1000 : value * 60_000)
}

export const durationIn = (name: string, minMs: number, maxMs: number, fallback: string) =>
  parsed(
    name,
    fallback,
    `a duration from ${minMs} ms to ${maxMs / 1000} s, like 6s or 500ms`,
    (raw) => within(parseDuration(raw), minMs, maxMs)
  )

/** A duration in milliseconds; unset or blank: none. */
export const optionalDurationIn = (name: string, minMs: number, maxMs: number, expected: string) =>
  optionalParsed(name, expected, (raw) => within(parseDuration(raw), minMs, maxMs))

const minute = 60_000
export const hour = 60 * minute
export const day = 24 * hour

/** "3 days", "72h", "1 hour", "90m", "2d": the longer durations, in milliseconds. */
export const parseLongDuration = (raw: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*(m|min|mins|minutes?|h|hours?|d|days?)$/i.exec(raw.trim())
  if (!match) return undefined
  const value = Number(match[1])
  const unit = match[2]!.toLowerCase()
  return Math.round(unit.startsWith("d") ? value * day : unit.startsWith("h") ? value * hour : value * minute)
}

/** `range` describes minMs to maxMs in words, like "1 hour to 3650 days". */
export const longDurationIn = (name: string, minMs: number, maxMs: number, fallback: string, range: string) =>
  parsed(
    name,
    fallback,
    `a duration from ${range}, like "3 days" or 12h`,
    (raw) => within(parseLongDuration(raw), minMs, maxMs)
  )

/** An http(s) URL without its trailing slashes. */
export const httpUrlOf = (raw: string): string | undefined => {
  const trimmed = raw.trim()
  try {
    const url = new URL(trimmed)
    return url.protocol === "http:" || url.protocol === "https:" ? trimmed.replace(/\/+$/, "") : undefined
  } catch {
    return undefined
  }
}

export const httpUrl = (name: string, fallback: string) => parsed(name, fallback, "an http(s):// URL", httpUrlOf)

export const optionalHttpUrl = (name: string) => optionalParsed(name, "an http(s):// URL", httpUrlOf)

export const literal = <const A extends string>(name: string, values: ReadonlyArray<A>, fallback: A) =>
  parsed(name, fallback, `one of ${values.join(", ")}`, (raw) => values.find((value) => value === raw))

/** The non-blank entries of a comma-separated list, trimmed. */
export const commaSeparated = (raw: string): ReadonlyArray<string> =>
  raw.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "")

export const plainString = (name: string, fallback: string) => Config.string(name).pipe(Config.withDefault(fallback))
