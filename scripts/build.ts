/**
 * `npm run build`: the bundle `npm start` runs, built when a source changed; prints its
 * directory and points `dist` at it (./product-bundle.ts).
 */
import { startBundle } from "./product-bundle.js"

startBundle().then((directory) => console.log(directory), (error: unknown) => {
  console.error(error)
  process.exit(1)
})
