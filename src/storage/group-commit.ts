/**
 * Group commit: writes that arrive while one is under way go together, in the next
 * statement. A caller waits for its own write's result, as it would for a statement of its
 * own; with nothing under way its write goes at once, so an idle system waits no longer
 * than before, and a busy one makes one commit where it made dozens.
 */
import { Chunk, Deferred, Effect, Exit, Queue, type Scope } from "effect"

/**
 * A writer of `write`'s items in groups of at most `maxGroup`; `write` answers each item
 * in the order given. The group's failure is each of its callers' failure. Lives as long
 * as the scope: a write under way when it closes is interrupted, and its callers with it.
 */
export const makeGroupCommit = <A, B, E>(
  write: (items: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>,
  maxGroup: number
): Effect.Effect<(item: A) => Effect.Effect<B, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const waiting = yield* Queue.unbounded<readonly [A, Deferred.Deferred<B, E>]>()
    const writeGroup = Effect.flatMap(Queue.takeBetween(waiting, 1, maxGroup), (chunk) => {
      const group = Chunk.toReadonlyArray(chunk)
      return Effect.exit(write(group.map(([item]) => item))).pipe(
        Effect.flatMap((exit) =>
          Effect.forEach(group, ([, done], i) =>
            Exit.isFailure(exit) ? Deferred.failCause(done, exit.cause) : Deferred.succeed(done, exit.value[i]!), { discard: true })
        ),
        Effect.onInterrupt(() => Effect.forEach(group, ([, done]) => Deferred.interrupt(done), { discard: true }))
      )
    })
    yield* Effect.forkScoped(Effect.forever(writeGroup))
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Queue.takeAll(waiting), (left) => Effect.forEach(left, ([, done]) => Deferred.interrupt(done), { discard: true }))
    )
    return (item: A) =>
      Effect.flatMap(Deferred.make<B, E>(), (done) => Effect.zipRight(Queue.offer(waiting, [item, done]), Deferred.await(done)))
  })
