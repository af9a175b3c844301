/**
 * The Postgres pool, with clients that run one query at a time of their own accord.
 *
 * node-pg queues a query issued while its client still runs one, and deprecates that (pg@9
 * drops the queue; until then it prints "Calling client.query() when the client is already
 * executing a query"). The cluster's runner storage issues such queries: it keeps one
 * reserved connection for its shard locks and releases each shard from a fiber of its own
 * (@effect/cluster Sharding.releaseShard → SqlRunnerStorage.release), so a runner that hands
 * shards over sends dozens of `pg_advisory_unlock` to one client at once; statements run
 * concurrently inside one transaction do the same. These clients wait for the running query
 * before sending the next, in call order: what node-pg's queue did, without the queue.
 *
 * The pool also never lends out again a connection that may hold session advisory locks
 * (the shard locks, the migration lock): see the "release" listener below.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Redacted } from "effect"
import pg from "pg"

type Callback = (error: Error | null, result: unknown) => void

/** node-pg's own `query`, whatever the form of its arguments. */
const pgQuery = pg.Client.prototype.query as (this: pg.Client, ...args: Array<unknown>) => unknown

/**
 * Statements by which a session takes or may hold session advisory locks: the runner
 * storage's lock connection asks its backend pid first and then takes shard locks; the
 * migrations take theirs (src/storage/migrations.ts).
 */
const holdsSessionLocks = /pg_backend_pid\s*\(|pg_(try_)?advisory_lock(_shared)?\s*\(/i

class OneQueryAtATimeClient extends pg.Client {
  private running = false
  private readonly waiting: Array<() => void> = []
  /** This lease ran a statement of `holdsSessionLocks`: the connection is closed when the lease ends. */
  mayHoldSessionLocks = false

  // Callback and promise forms are ordered here; a submittable (a cursor) goes to node-pg as
  // before, since its caller drives it after this returns.
  override query(...args: Array<any>): any {
    const [config] = args
    if (config !== null && typeof config === "object" && typeof config.submit === "function") return pgQuery.apply(this, args)
    const callbackAt = args.findIndex((arg, index) => index > 0 && typeof arg === "function")
    if (callbackAt === -1) {
      return new Promise((resolve, reject) =>
        this.query(...args, (error: Error | null, result: unknown) => error ? reject(error) : resolve(result))
      )
    }
    const callback = args[callbackAt] as Callback
    const text = typeof config === "string" ? config : config?.text
    if (typeof text === "string" && holdsSessionLocks.test(text)) this.mayHoldSessionLocks = true
    const done = (error: Error | null, result: unknown) => {
      this.running = false
      this.waiting.shift()?.()
      callback(error, result)
    }
    const send = () => {
      this.running = true
      try {
        pgQuery.call(this, ...args.slice(0, callbackAt), done)
      } catch (error) {
        // node-pg refuses some queries by throwing (a null one): that query fails, the next goes on.
        done(error instanceof Error ? error : new Error(String(error)), undefined)
      }
    }
    if (this.running) this.waiting.push(send)
    else send()
    return undefined
  }
}

/** The name a runner's sessions carry in pg_stat_activity: the dashboard counts each runner's shard locks by it. */
export const runnerSessionName = (runnerAddress: string) => `photo-video-bot runner ${runnerAddress}`.slice(0, 63)

/**
 * How soon Postgres gives up on a runner it cannot reach, in the server's keepalive
 * settings, which each session may set for itself. A runner's shard locks live as long as
 * its session (the note on the "release" listener below). When the runner's process dies, its
 * machine closes the connection and the server ends the session at once; when the machine
 * itself is gone (powered off, cut from the network), nothing closes it, and the server learns
 * of it only from TCP keepalive: by default after 2 h 11 min (7,200 s of silence, then 9
 * probes 75 s apart), during which no runner could take those shards. Here: 10 s of silence,
 * then 3 probes 5 s apart, so about 25 s; a probe is a packet every 10 s on an idle connection.
 */
export const serverKeepalive = { idleSeconds: 10, intervalSeconds: 5, count: 3 } as const

/**
 * The connection's `options` (server settings for its session): the keepalive above first,
 * then the operator's own, from PGOPTIONS and the URL's `options`, which win where they set
 * the same thing (a later `-c` overrides an earlier one). node-pg would take the URL's alone.
 */
export const connectionSettings = (url: string): { readonly connectionString: string; readonly options: string } => {
  // node-pg also reads forms the URL parser refuses (a socket host: postgres://user@/db?host=…);
  // their `options`, if any, are then node-pg's to read, and win over these as a whole.
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  const fromUrl = parsed?.searchParams.get("options") ?? null
  parsed?.searchParams.delete("options")
  const keepalive = `-c tcp_keepalives_idle=${serverKeepalive.idleSeconds} ` +
    `-c tcp_keepalives_interval=${serverKeepalive.intervalSeconds} -c tcp_keepalives_count=${serverKeepalive.count}`
  const options = [keepalive, process.env.PGOPTIONS, fromUrl].filter((part) => part !== undefined && part !== null && part !== "")
  return { connectionString: fromUrl === null || parsed === undefined ? url : parsed.toString(), options: options.join(" ") }
}

/** A pool for `url` whose clients never queue a query in node-pg. */
export const onePerClientPool = (
  url: Redacted.Redacted<string>,
  options: { readonly maxConnections: number; readonly applicationName: string }
) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const pool = new pg.Pool({
        ...connectionSettings(Redacted.value(url)),
        max: options.maxConnections,
        application_name: options.applicationName,
        Client: OneQueryAtATimeClient
      })
      // An idle client's error is the pool's to drop; the next checkout reconnects.
      pool.on("error", () => {})
      // A connection that may hold session advisory locks never goes back to the pool: it is
      // closed when its lease ends (the pool then drops it), and its locks go with it. The
      // runner storage (@effect/cluster SqlRunnerStorage) rebuilds its lock connection when a
      // lock statement outlives its deadline: the old connection's `pg_advisory_unlock_all()`
      // has a deadline of its own (on a machine slow enough to need the rebuild, it can miss
      // it), and the statement that timed out finishes in a fiber of its own, so it can take
      // its locks after the unlock. Either way the connection went back to the pool holding
      // shard locks, in a session nobody knows of. No runner could take those shards, and every
      // message to their entities would be retried for ever, while a busy runner kept the
      // session from ever idling out (test/storage/pg-lock-connection.test.ts). The locks go when
      // the server sees the connection close: at once on a live network, after its TCP
      // keepalive (`serverKeepalive`) on a half-open one.
      pool.on("release", (_error: Error | undefined, client: pg.PoolClient) => {
        if (client instanceof OneQueryAtATimeClient && client.mayHoldSessionLocks) void client.end().catch(() => {})
      })
      return pool
    }),
    (pool) => Effect.promise(() => pool.end()).pipe(Effect.interruptible, Effect.timeoutOption(1000))
  ).pipe(
    Effect.tap((pool) =>
      Effect.tryPromise({
        try: () => pool.query("SELECT 1"),
        catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
      }).pipe(Effect.timeoutFail({
        duration: "5 seconds",
        onTimeout: () => new SqlError({ cause: new Error("Connection timed out"), message: "PgClient: Connection timed out" })
      }))
    )
  )
