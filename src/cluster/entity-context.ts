/**
 * Builds an entity's layer with only the services its handlers name, not the runner's whole
 * context.
 *
 * @effect/cluster gives every entity it starts the context its layer was built with, and
 * closing an entity's scope (it is reaped seconds after it goes idle) runs finalizers that
 * restore the fiber's references to what they were when each was added: the difference
 * between the entity's context and the reaper's is patched service by service. Built inside
 * the runner's composition, an entity carried some 57 services against the reaper's 16, and
 * that patching was a quarter of all the bytes a photo allocated (BENCHMARKS.md, "where a
 * photo's allocation goes"). With only what it names (and the cluster's own services, which
 * the sharding adds back), the difference is a handful.
 *
 * The list is checked by the compiler: a layer that needs a service the list leaves out
 * does not type-check. What a layer only looks for (`Effect.serviceOption`) the compiler
 * cannot see: name it in `ifPresent`, or the layer will find it missing.
 */
import { Context, Effect, Layer, Scope } from "effect"

export const withOnlyServices = <const Tags extends ReadonlyArray<Context.Tag<any, any>>>(
  tags: Tags,
  options?: { readonly ifPresent?: ReadonlyArray<Context.Tag<any, any>> }
) =>
<ROut, E, RIn extends Context.Tag.Identifier<Tags[number]>>(
  layer: Layer.Layer<ROut, E, RIn>
): Layer.Layer<ROut, E, Context.Tag.Identifier<Tags[number]>> =>
  Layer.scopedContext<ROut, E, Context.Tag.Identifier<Tags[number]> | Scope.Scope>(
    Effect.gen(function*() {
      const context = yield* Effect.context<Context.Tag.Identifier<Tags[number]>>()
      const scope = yield* Effect.scope
      const only = Context.add(Context.pick(...tags, ...(options?.ifPresent ?? []))(context), Scope.Scope, scope)
      return yield* Effect.mapInputContext(Layer.buildWithScope(layer, scope), (_: Context.Context<never>) => only as Context.Context<RIn>)
    })
  )
