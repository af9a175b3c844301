export * from "./credit-errors.js"
