import { assert, describe, it } from "@effect/vitest"
import { messagesFor } from "../../../src/i18n/index.js"
import { catalog } from "../../../src/kie/models.js"
import { settingsCallbackData } from "../../../src/telegram/callback-data.js"
import { chosenSetting } from "../../../src/telegram/features/settings.js"
import { settingsKeyboard } from "../../../src/telegram/keyboards.js"

describe("settings buttons", () => {
  it("name the model by its slug, so a reordered catalog keeps what each button means", () => {
    const keyboard = settingsKeyboard(messagesFor("en"), { model: catalog[0]!.slug, durationSeconds: 5 })
    const pressed = keyboard.flat().map((button) => chosenSetting(button.callbackData!))
    const offered = catalog.flatMap((model) => model.durations.map((durationSeconds) => ({ model, durationSeconds })))
    assert.deepStrictEqual(pressed, offered)
    for (const button of keyboard.flat()) {
      assert.isAtMost(new TextEncoder().encode(button.callbackData).length, 64, button.callbackData)
      assert.notMatch(button.callbackData!, /^set:\d+:/, "the data carries the slug, not a position")
    }
  })

  it("a button from before the slugs (catalog position) or for a model or duration no longer offered is stale", () => {
    for (const old of ["set:0:5", "set:1:10", "set:3:12", "set:99:5"]) assert.isUndefined(chosenSetting(old), old)
    assert.isUndefined(chosenSetting(settingsCallbackData("kling-1.0/retired", 5)))
    assert.isUndefined(chosenSetting(settingsCallbackData(catalog[0]!.slug, 7)))
    assert.isTrue(catalog.every((model) => !/^\d+$/.test(model.slug)), "no slug may look like an old position")
  })
})
