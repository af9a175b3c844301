/**
 * What a user chose with /settings: a model's slug (src/kie/models.ts) and a duration. A
 * slug the catalog no longer has falls back to the default (src/telegram/features/settings.ts).
 */
export interface ChosenSettings {
  readonly model: string
  readonly durationSeconds: number
}
