/**
 * The last line of defence behind the logger. Whatever else the process writes to stdout
 * and stderr (a library's console.warn, such as ioredis's "[ioredis] Unhandled error event",
 * the sandbox banner, a simulator's complaint) passes through the same redactor; in
 * production a write that is not already JSON lines becomes one JSON line in the logger's
 * shape, so collected output parses line by line (docs/operations.md). Node's warnings and
 * uncaught exceptions, which Node prints itself, go through the logger instead.
 */
import { Cause, Effect, Layer, Runtime } from "effect"
import { type Redactor, redactJsonStrings } from "./redaction.js"

type Write = NodeJS.WriteStream["write"]

export interface WritableOutput {
  write: Write
}

const isJsonObject = (line: string): boolean => {
  if (!line.startsWith("{") || !line.endsWith("}")) return false
  try {
    JSON.parse(line)
    return true
  } catch {
    return false
  }
}

/** A foreign write as one line shaped like the logger's. */
const asJsonLine = (text: string, stream: "stdout" | "stderr") =>
  JSON.stringify({
    message: text.replace(/\n$/, ""),
    logLevel: stream === "stderr" ? "WARN" : "INFO",
    timestamp: new Date().toISOString(),
    annotations: { stream },
    spans: {},
    fiberId: "none"
  }) + "\n"

/** What the guard writes instead of `text`. */
export const guardedText = (
  text: string,
  stream: "stdout" | "stderr",
  redactor: Redactor,
  jsonLines: boolean
): string => {
  if (!jsonLines) return redactor.redact(text)
  const lines = text.split("\n")
  const allJson = lines.every((line, index) => (line === "" && index === lines.length - 1) || isJsonObject(line))
  return allJson ? redactJsonStrings(redactor, text) : asJsonLine(redactor.redact(text), stream)
}

const guard = (
  output: WritableOutput,
  stream: "stdout" | "stderr",
  redactor: Redactor,
  jsonLines: boolean
): () => void => {
  const original = output.write
  output.write = function(this: unknown, chunk: unknown, ...rest: Array<unknown>) {
    const encoding = typeof rest[0] === "string" ? rest[0] : undefined
    const text = typeof chunk === "string"
      ? (encoding === undefined || /^utf-?8$/i.test(encoding) ? chunk : undefined)
      : chunk instanceof Uint8Array
      ? Buffer.from(chunk).toString("utf8")
      : undefined
    const written = text === undefined ? chunk : guardedText(text, stream, redactor, jsonLines)
    return (original as (...args: Array<unknown>) => boolean).call(this, written, ...rest)
  } as Write
  return () => {
    output.write = original
  }
}

/** Redacts (and in production turns into JSON lines) everything written to the two streams, while the layer lives. */
export const guardProcessOutput = (
  redactor: Redactor,
  jsonLines: boolean,
  streams: { readonly stdout: WritableOutput; readonly stderr: WritableOutput } = process
) =>
  Layer.scopedDiscard(
    Effect.acquireRelease(
      Effect.sync(() => [
        guard(streams.stdout, "stdout", redactor, jsonLines),
        guard(streams.stderr, "stderr", redactor, jsonLines)
      ]),
      (restore) => Effect.sync(() => restore.reverse().forEach((undo) => undo()))
    )
  )

/**
 * Node's 'warning' events (pg's deprecation notices, say) as warning lines of the logger,
 * in place of Node's own printing; uncaught exceptions as a fatal line before the process
 * exits with 1, as Node would. Built under the logger, whose runtime it keeps.
 */
export const ProcessEventsToLog = Layer.scopedDiscard(
  Effect.gen(function*() {
    const log = Runtime.runSync(yield* Effect.runtime<never>())
    const onWarning = (warning: Error) =>
      log(
        Effect.logWarning(`${warning.name}: ${warning.message}`).pipe(
          Effect.annotateLogs({ warning: warning.name, code: String((warning as { code?: unknown }).code ?? "") })
        )
      )
    const onUncaught = (error: unknown) => {
      log(Effect.logFatal("uncaught exception; the process stops", Cause.die(error)))
      process.exit(1)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const nodeListeners = process.listeners("warning")
        process.removeAllListeners("warning")
        process.on("warning", onWarning)
        process.on("uncaughtException", onUncaught)
        return nodeListeners
      }),
      (nodeListeners) =>
        Effect.sync(() => {
          process.off("warning", onWarning)
          process.off("uncaughtException", onUncaught)
          for (const listener of nodeListeners) process.on("warning", listener)
        })
    )
  })
)
