export * from "./credit-errors.js"
export * from "./kie-errors.js"
export * from "./telegram-errors.js"
export * from "./payment-errors.js"
