/**
 * The image-to-video models the bot offers. Each market model wants its own `input`
 * shape: `image_urls` vs `image_url` vs `input_urls`, duration as "5" or
 * as 5. Every required field is sent explicitly because KIE does not reliably apply its
 * documented defaults. Prices are the bot's own units (1 = one default video); the KIE
 * credit estimates are from late-2025 price notes and must be re-checked on kie.ai/pricing.
 */
import { Duration, Either } from "effect"
import { KieUserError } from "../errors/kie-errors.js"

export interface VideoRequest {
  readonly imageUrl: string
  readonly prompt: string
  readonly durationSeconds: number
}

export interface VideoModel {
  readonly slug: string
  readonly label: string
  readonly promptLimit: number
  readonly durations: ReadonlyArray<number>
  readonly defaultDuration: number
  /** Bot units charged per duration (whole units). */
  readonly credits: Readonly<Record<number, number>>
  /** What KIE bills us, roughly, per duration: for margins and the breaker's probe. */
  readonly kieCreditsEstimate: Readonly<Record<number, number>>
  /** After this, the job stops waiting, refunds, and leaves the task to the reconciler. */
  readonly deadline: Duration.Duration
  readonly buildInput: (request: VideoRequest) => Record<string, unknown>
}

/** Used when the caption is empty: every model here requires a prompt. */
export const defaultPrompt = "Bring this photo to life with natural, subtle motion and a gentle camera move."

export const kling26: VideoModel = {
  slug: "kling-2.6/image-to-video",
  label: "Kling 2.6",
  promptLimit: 2500,
  durations: [5, 10],
  defaultDuration: 5,
  credits: { 5: 1, 10: 2 },
  kieCreditsEstimate: { 5: 55, 10: 110 },
  deadline: Duration.minutes(20),
  // Kling 2.6 ignores a bare `image_url` and a numeric duration silently.
  buildInput: (r) => ({
    prompt: r.prompt,
    image_urls: [r.imageUrl],
    sound: false,
    duration: String(r.durationSeconds)
  })
}

export const wan25: VideoModel = {
  slug: "wan/2-5-image-to-video",
  label: "Wan 2.5",
  promptLimit: 800,
  durations: [5, 10],
  defaultDuration: 5,
  credits: { 5: 1, 10: 2 },
  kieCreditsEstimate: { 5: 60, 10: 120 },
  deadline: Duration.minutes(15),
  buildInput: (r) => ({
    prompt: r.prompt,
    image_url: r.imageUrl,
    duration: String(r.durationSeconds),
    resolution: "720p",
    negative_prompt: "",
    enable_prompt_expansion: false,
    seed: -1
  })
}

export const seedanceV1Pro: VideoModel = {
  slug: "bytedance/v1-pro-image-to-video",
  label: "Seedance 1.0 Pro",
  promptLimit: 10_000,
  durations: [5, 10],
  defaultDuration: 5,
  credits: { 5: 1, 10: 2 },
  kieCreditsEstimate: { 5: 30, 10: 60 },
  deadline: Duration.minutes(15),
  buildInput: (r) => ({
    prompt: r.prompt,
    image_url: r.imageUrl,
    resolution: "720p",
    duration: String(r.durationSeconds),
    camera_fixed: false,
    seed: -1,
    // KIE's own filter stays on: relaxing it is a policy decision, not a fix.
    enable_safety_checker: true
  })
}

export const seedance15Pro: VideoModel = {
  slug: "bytedance/seedance-1.5-pro",
  label: "Seedance 1.5 Pro",
  promptLimit: 10_000,
  durations: [4, 8, 12],
  defaultDuration: 4,
  credits: { 4: 1, 8: 2, 12: 3 },
  kieCreditsEstimate: { 4: 40, 8: 80, 12: 120 },
  deadline: Duration.minutes(20),
  // One client sends "4", another 4; the numeric form is the one in the published schema.
  buildInput: (r) => ({
    prompt: r.prompt,
    input_urls: [r.imageUrl],
    aspect_ratio: "9:16",
    resolution: "720p",
    duration: r.durationSeconds,
    generate_audio: false
  })
}

export const catalog: ReadonlyArray<VideoModel> = [kling26, wan25, seedanceV1Pro, seedance15Pro]

export const findModel = (slug: string): VideoModel | undefined => catalog.find((model) => model.slug === slug)

export const modelSlugs = catalog.map((model) => model.slug)

/** Checks the caption against the model before anything is charged or uploaded. */
export const preparePrompt = (model: VideoModel, caption: string | undefined): Either.Either<string, KieUserError> => {
  const prompt = caption?.trim() ? caption.trim() : defaultPrompt
  return prompt.length > model.promptLimit
    ? Either.left(
      new KieUserError({
        reason: "PromptTooLong",
        operation: "createTask",
        msg: `prompt has ${prompt.length} characters, ${model.label} accepts ${model.promptLimit}`
      })
    )
    : Either.right(prompt)
}

export const creditsFor = (model: VideoModel, durationSeconds: number): number | undefined =>
  model.credits[durationSeconds]
