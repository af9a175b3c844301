/**
 * What the simulated KIE accepts per model, written from KIE's model docs independently of
 * src/kie/models.ts, so that a wrong field name in the bot's builders is caught here.
 */
type Check = (input: Record<string, unknown>) => string | undefined

const isUrl = (value: unknown) => typeof value === "string" && /^https?:\/\//.test(value)

const prompt = (limit: number): Check => (input) =>
  typeof input.prompt !== "string" || input.prompt.trim() === ""
    ? "prompt is required"
    : input.prompt.length > limit
    ? `prompt must be at most ${limit} characters`
    : undefined

const stringDuration = (...allowed: Array<string>): Check => (input) =>
  typeof input.duration !== "string" || !allowed.includes(input.duration)
    ? `duration must be one of ${allowed.map((d) => `"${d}"`).join(", ")}`
    : undefined

const oneOf = (field: string, ...allowed: Array<string>): Check => (input) =>
  input[field] !== undefined && !allowed.includes(String(input[field])) ? `${field} is invalid` : undefined

const imageUrl: Check = (input) => isUrl(input.image_url) ? undefined : "image_url is required"

const imageUrls = (field: string, min: number, max: number): Check => (input) => {
  const value = input[field]
  return Array.isArray(value) && value.length >= min && value.length <= max && value.every(isUrl)
    ? undefined
    : `${field} must be an array of ${min}–${max} URLs`
}

export interface SimModel {
  readonly checks: ReadonlyArray<Check>
  /** What a task costs the account, in KIE credits. */
  readonly cost: number
  readonly imageFields: ReadonlyArray<string>
}

export const simModels: Record<string, SimModel> = {
  "kling-2.6/image-to-video": {
    checks: [prompt(2500), imageUrls("image_urls", 1, 1), stringDuration("5", "10")],
    cost: 55,
    imageFields: ["image_urls"]
  },
  "wan/2-5-image-to-video": {
    checks: [prompt(800), imageUrl, stringDuration("5", "10"), oneOf("resolution", "720p", "1080p")],
    cost: 60,
    imageFields: ["image_url"]
  },
  "bytedance/v1-pro-image-to-video": {
    checks: [prompt(10_000), imageUrl, stringDuration("5", "10"), oneOf("resolution", "480p", "720p", "1080p")],
    cost: 30,
    imageFields: ["image_url"]
  },
  "bytedance/seedance-1.5-pro": {
    checks: [
      prompt(10_000),
      imageUrls("input_urls", 0, 2),
      (input) => ["4", "8", "12"].includes(String(input.duration)) ? undefined : "duration must be 4, 8 or 12",
      oneOf("resolution", "480p", "720p", "1080p")
    ],
    cost: 40,
    imageFields: ["input_urls"]
  }
}

export const validateInput = (model: SimModel, input: Record<string, unknown>): string | undefined => {
  for (const check of model.checks) {
    const problem = check(input)
    if (problem !== undefined) return problem
  }
  return undefined
}

export const imageUrlsOf = (model: SimModel, input: Record<string, unknown>): Array<string> =>
  model.imageFields.flatMap((field) => {
    const value = input[field]
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : typeof value === "string" ? [value] : []
  })
