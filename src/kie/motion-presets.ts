/**
 * One-tap motion presets: what a photo sent without a caption is offered instead of a
 * prompt. The prompts live here, in English (what the models read best); the button names
 * are the user's language (src/i18n). Every prompt fits the shortest prompt limit of the
 * catalog (./models.ts), so a preset works with any model the user chose.
 */
export const motionPresetIds = ["gentle", "zoom", "turn", "wave", "smile", "drama"] as const

export type MotionPresetId = typeof motionPresetIds[number]

export const motionPrompts: Readonly<Record<MotionPresetId, string>> = {
  gentle: "Bring this photo to life with natural, subtle motion: hair and clothes move slightly, a soft breeze, " +
    "a gentle, slow camera drift. Keep the faces and the scene exactly as they are.",
  zoom: "A slow, smooth cinematic zoom in towards the main subject, with slight natural motion in the scene. " +
    "Keep the subject sharp and unchanged.",
  turn: "The person slowly turns their head and shoulders towards the camera and back, naturally and smoothly, " +
    "while the camera stays steady.",
  wave: "The person raises a hand and waves at the camera in a friendly, natural way, then lowers it; " +
    "the background stays calm.",
  smile: "The person's expression slowly warms into a natural, genuine smile, with a slight nod and a blink; " +
    "the camera stays steady.",
  drama: "A dramatic, sweeping camera move: a smooth orbit around the subject with a slow push in, " +
    "cinematic lighting and depth, the subject unchanged."
}

export const isMotionPresetId = (id: string): id is MotionPresetId => (motionPresetIds as ReadonlyArray<string>).includes(id)
