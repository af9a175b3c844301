/** What credits cost in Stars, what a new user gets free, and the key that signs invoices. */
import { Config, Either } from "effect"
import { commaSeparated, integerIn, invalid, optionalRedacted } from "./parsers.js"

export interface StarPackage {
  readonly credits: number
  readonly stars: number
}

/** "5:250,20:900": credits:stars pairs; Left says what was expected. */
export const parseStarPackages = (raw: string): Either.Either<ReadonlyArray<StarPackage>, string> => {
  const entries = commaSeparated(raw)
  if (entries.length === 0) return Either.left("at least one package")
  const packages: Array<StarPackage> = []
  for (const entry of entries) {
    const match = /^(\d+):(\d+)$/.exec(entry)
    if (!match) return Either.left(`a comma-separated list of credits:stars pairs like 5:250,20:900`)
    const credits = Number(match[1])
    const stars = Number(match[2])
    if (credits < 1 || stars < 1 || stars > 10_000) {
      return Either.left(`credits of at least 1 and stars from 1 to 10000 in every pair`)
    }
    if (packages.some((existing) => existing.credits === credits)) {
      return Either.left(`one package per credit amount (${credits} appears twice)`)
    }
    packages.push({ credits, stars })
  }
  return Either.right(packages)
}

export const starPackages = Config.string("STAR_PACKAGES").pipe(
  Config.withDefault("5:250,20:900,50:2000"),
  Config.mapOrFail((raw) =>
    Either.mapLeft(parseStarPackages(raw), (expected) => invalid("STAR_PACKAGES", expected, raw))
  )
)

/** Free generations for a new user. */
export const freeTokens = integerIn("FREE_TOKENS", 0, 1000, 2)

export const paymentsSettings = Config.all({
  /** Signs invoice payloads; the same on every runner. Required with a real bot token (src/config/index.ts). */
  secret: optionalRedacted("PAYMENTS_SECRET")
})

export type PaymentsSettings = Config.Config.Success<typeof paymentsSettings>
