/**
 * The one redactor everything the process prints passes through (the logger in
 * src/observability/logging.ts, then the guard on stdout and stderr in
 * src/observability/process-output.ts). It hides the value of every secret of the resolved
 * settings: every `Redacted` found anywhere in them, so a secret added to src/config/ is
 * covered without a change here, together with the forms in which such a value shows up
 * in text (a bot token's part after the colon, the password of a URL, percent-encoded and
 * JSON-escaped spellings).
 */
import { Context, Redacted } from "effect"

export const redactedMark = "<redacted>"

/**
 * Values shorter than this are not replaced: they would blank ordinary words out of every
 * line, and a secret that short is no secret (docs/operations.md, Logs).
 */
export const shortestRedactedValue = 4

/** Every string held in a `Redacted` anywhere inside `settings` (records, arrays, Options). */
export const secretValuesIn = (settings: unknown): ReadonlyArray<string> => {
  const found = new Set<string>()
  const seen = new Set<object>()
  const visit = (value: unknown): void => {
    if (Redacted.isRedacted(value)) {
      const secret = Redacted.value(value)
      if (typeof secret === "string") found.add(secret)
      return
    }
    if (typeof value !== "object" || value === null || seen.has(value)) return
    seen.add(value)
    for (const child of Array.isArray(value) ? value : Object.values(value)) visit(child)
  }
  visit(settings)
  return [...found]
}

const decoded = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** The spellings under which a secret may appear in printed text. */
export const printedFormsOf = (secret: string): ReadonlyArray<string> => {
  const bases = [secret]
  // A bot token is `<bot id>:<secret part>`; the id alone is public, the rest is not.
  const tokenSecret = /^\d+:(.+)$/.exec(secret)?.[1]
  if (tokenSecret !== undefined) bases.push(tokenSecret)
  if (URL.canParse(secret)) {
    const password = new URL(secret).password
    if (password !== "") bases.push(password, decoded(password))
  }
  const forms = bases.flatMap((base) => [base, encodeURIComponent(base), JSON.stringify(base).slice(1, -1)])
  return [...new Set(forms)].filter((form) => form.length >= shortestRedactedValue)
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

export interface Redactor {
  /** `text` with every printed form of every known secret replaced by `<redacted>`. */
  readonly redact: (text: string) => string
}

export const redactorOf = (secrets: ReadonlyArray<string>): Redactor => {
  // Longest first: where one secret contains another, the whole of it is replaced.
  const forms = [...new Set(secrets.flatMap(printedFormsOf))].sort((a, b) => b.length - a.length)
  if (forms.length === 0) return { redact: (text) => text }
  const pattern = new RegExp(forms.map(escapeRegExp).join("|"), "g")
  return { redact: (text) => text.replace(pattern, redactedMark) }
}

const jsonStringLiteral = /"(?:[^"\\]|\\.)*"/g

/**
 * Redacts inside the string literals of a JSON text only, so the result still parses (a
 * secret that looks like a number is not hunted among the numbers).
 */
export const redactJsonStrings = (redactor: Redactor, json: string): string =>
  json.replace(jsonStringLiteral, (literal) => redactor.redact(literal))

/**
 * The process's redactor. It exists before the configuration resolves (a failing
 * configuration is reported through the logger too) and learns the secrets once the
 * settings are known; until then it knows none, and configuration errors name variables
 * without echoing a secret's value (src/config/).
 */
export class SecretRedactor implements Redactor {
  private secrets: ReadonlyArray<string> = []
  private current: Redactor = redactorOf([])

  readonly redact = (text: string): string => this.current.redact(text)

  /** Adds every secret value found in `settings`. */
  cover(settings: unknown): void {
    this.secrets = [...new Set([...this.secrets, ...secretValuesIn(settings)])]
    this.current = redactorOf(this.secrets)
  }
}

/** The process's one SecretRedactor, made with the logger (src/observability/logging.ts). */
export class ProcessRedactor extends Context.Tag("app/ProcessRedactor")<ProcessRedactor, SecretRedactor>() {}
