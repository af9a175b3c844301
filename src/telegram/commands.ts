/**
 * Every command of the bot, in the order of its menu, and who may use it. The handlers
 * register their commands by these names (`command`) and the start-up menu is made from
 * this table (./command-menu.ts), so the menu cannot list a command the bot lacks or miss
 * one it has. A user command's menu text is in each locale (`Messages.commandMenu`), an
 * admin command's in src/i18n/operator.ts: a command added here without them does not compile.
 * To add one: a line here, its texts, and its handler registered with `command("name")`.
 */

export const botCommands = {
  start: "user",
  help: "user",
  settings: "user",
  balance: "user",
  buy: "user",
  history: "user",
  invite: "user",
  promo: "user",
  paysupport: "user",
  privacy: "user",
  terms: "user",
  stats: "admin",
  grant: "admin",
  refund: "admin",
  forget: "admin",
  promo_new: "admin",
  promo_list: "admin",
  promo_disable: "admin",
  broadcast: "admin"
} as const satisfies Record<string, "user" | "admin">

type Commands = typeof botCommands
export type BotCommandName = keyof Commands
export type UserCommand = { readonly [C in BotCommandName]: Commands[C] extends "user" ? C : never }[BotCommandName]
export type AdminCommand = Exclude<BotCommandName, UserCommand>

export const commandNames = Object.keys(botCommands) as ReadonlyArray<BotCommandName>

/** The name a handler registers, checked against the table. */
export const command = <C extends BotCommandName>(name: C): C => name
