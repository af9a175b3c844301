/**
 * Plural forms chosen by `Intl.PluralRules`. A locale names the categories its language
 * uses, so leaving out a form is a compile error; naming fewer categories than the
 * runtime's rules can return fails when the locale module loads.
 */
export type PluralCategory = Intl.LDMLPluralRule

export type PluralForms<C extends PluralCategory> = { readonly [K in C]: string }

/** `select(n, forms)`: the form of `forms` that `n` takes in `locale`. */
export const pluralRules = <C extends PluralCategory>(locale: string, categories: ReadonlyArray<C>) => {
  const rules = new Intl.PluralRules(locale)
  const declared: ReadonlyArray<string> = categories
  const missing = rules.resolvedOptions().pluralCategories.filter((category) => !declared.includes(category))
  if (missing.length > 0) throw new Error(`the plural forms of ${locale} lack ${missing.join(", ")}`)
  return (n: number, forms: PluralForms<C>): string => forms[rules.select(n) as C]
}

/** "m:ss", for waits and elapsed times. */
export const minutesSeconds = (ms: number) => {
  const total = Math.max(0, Math.round(ms / 1000))
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`
}
