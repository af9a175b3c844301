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
 * (the shard locks, the migration lock): see the "release" listener below. And it closes a
 * connection whose server stops answering a statement (`statementDeadline`), so a runner
 * recovers when the database comes back.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Redacted } from "effect"
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

/**
 * Schema changes, which the app's migrations and the cluster's storage layers run at start-up,
 * and the table lock each migrator takes first: they wait for every transaction on their table
 * to end, and build an index or rewrite a table in time that grows with the data, so no
 * deadline suits them.
 */
const changesSchema = /^\s*(CREATE|ALTER|DROP|LOCK)\b/i

/**
 * How long a statement may go unanswered before its connection is closed. node-pg waits for
 * an answer for ever, and when the server vanishes while a statement is in flight (its host
 * gone dark, a partition, a failover whose old address stops answering) nothing closes the
 * socket: TCP gives up on unacknowledged data after about 15 minutes. @effect/sql-pg does not
 * help: a fiber interrupted while it waits sends `pg_cancel_backend` over another connection of
 * the pool (as lost on a dark network) and hands the wedged client back to the pool as
 * healthy, where the next statements queue behind the lost one.
 *
 * A minute: the longest statements the product runs, apart from the exempt ones above, are
 * /stats and the dashboard reading the analytics views over whole tables
 * (src/observability/stats.ts, src/observability/dashboard-data.ts) and retention's batches of
 * at most 1,000 rows (src/storage/retention.ts): seconds on large tables. A migration's data
 * statement (an UPDATE over a table) is held to it too; a larger one goes in batches.
 *
 * No server-side `statement_timeout` alongside: it would cancel the exempt waits as well, and
 * on a dark network its answer is lost like any other. What it would add is keeping the
 * connection of a statement that is merely slow, which at a minute is rare enough to pay a
 * reconnection for. An operator's own `statement_timeout` in the URL still applies.
 */
export const statementDeadline = Duration.minutes(1)

/**
 * A statement Postgres did not answer within its deadline; its connection was closed. Its
 * code is that of a socket that timed out, which is what happened, so the failure counts as a
 * lost connection: transient (src/errors/failure-class.ts).
 */
export class StatementUnanswered extends Error {
  override readonly name = "StatementUnanswered"
  readonly code = "ETIMEDOUT"
  constructor(readonly deadlineMillis: number, options: ErrorOptions) {
    super(`Postgres did not answer within ${deadlineMillis} ms; the connection was closed`, options)
  }
}

/** A client's settings: node-pg's, and the pool's deadline (none when absent). */
interface DeadlineClientConfig extends pg.ClientConfig {
  readonly statementDeadlineMillis?: number | undefined
}

class OneQueryAtATimeClient extends pg.Client {
  private running = false
  private readonly waiting: Array<() => void> = []
  /** This lease ran a statement of `holdsSessionLocks`: the connection is closed when the lease ends. */
  mayHoldSessionLocks = false
  private readonly deadlineMillis: number | undefined

  constructor(config?: DeadlineClientConfig) {
    // A server can stop answering while a connection is made, too (the pool's next connection
    // after a failover): node-pg's own connection timeout is the same deadline. Set on the
    // client, not the pool, whose timeout would also fail a wait for a free connection. The
    // pool hides a password from enumeration, which the spread would drop.
    super({
      ...config,
      password: config?.password,
      connectionTimeoutMillis: config?.connectionTimeoutMillis ?? config?.statementDeadlineMillis
    })
    this.deadlineMillis = config?.statementDeadlineMillis
  }

  /**
   * Closes the connection under an unanswered statement. node-pg then fails that statement and
   * refuses the ones queued here behind it; `end` marks the client ended, so the pool drops it
   * when its lease ends, even released without an error (as @effect/sql-pg releases it).
   * The socket is destroyed in any case: `end` alone says goodbye and waits for the server
   * when node-pg has no statement of its own under way.
   */
  private abandon() {
    void this.end().catch(() => {})
    this.connection.stream.destroy()
  }

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
    const locks = typeof text === "string" && holdsSessionLocks.test(text)
    if (locks) this.mayHoldSessionLocks = true
    // No deadline for what may wait as long as it takes on a server that answers: the session
    // advisory lock statements (the migration lock waits for another runner's migrations; the
    // runner storage's have deadlines of their own in @effect/cluster) and schema changes.
    const deadlineMillis = locks || (typeof text === "string" && changesSchema.test(text)) ? undefined : this.deadlineMillis
    let deadline: ReturnType<typeof setTimeout> | undefined
    let unansweredWithin: number | undefined
    const done = (error: Error | null, result: unknown) => {
      clearTimeout(deadline)
      this.running = false
      this.waiting.shift()?.()
      callback(
        unansweredWithin !== undefined && error !== null ? new StatementUnanswered(unansweredWithin, { cause: error }) : error,
        result
      )
    }
    const send = () => {
      this.running = true
      // From when the statement goes out: a wait behind an earlier one is that one's to bound.
      if (deadlineMillis !== undefined) {
        // Unreferenced: a statement left unanswered does not keep a stopping process alive.
        deadline = setTimeout(() => {
          unansweredWithin = deadlineMillis
          this.abandon()
        }, deadlineMillis).unref()
      }
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

/**
 * How long a runner's connection may be silent before its kernel probes the server (node-pg's
 * `keepAlive`; Node then probes every second, ten times): a server that vanished is noticed
 * about 20 s later on a connection with nothing unacknowledged in flight. That is where the
 * statement deadline cannot help or comes late: an exempt statement the server received and
 * waits on (the migration lock), the runner storage's reserved lock connection between its
 * statements, a statement the server received and is working on. Unacknowledged data is
 * TCP's retransmission to give up on (the 15 minutes above), so there the deadline decides.
 */
export const clientKeepaliveIdle = Duration.seconds(10)

/**
 * A pool for `url` whose clients never queue a query in node-pg, and close a connection whose
 * statement has no answer within `statementDeadline` (tests give a shorter one).
 */
export const onePerClientPool = (
  url: Redacted.Redacted<string>,
  options: {
    readonly maxConnections: number
    readonly applicationName: string
    readonly statementDeadline?: Duration.DurationInput
  }
) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const config: pg.PoolConfig & DeadlineClientConfig = {
        ...connectionSettings(Redacted.value(url)),
        max: options.maxConnections,
        application_name: options.applicationName,
        keepAlive: true,
        keepAliveInitialDelayMillis: Duration.toMillis(clientKeepaliveIdle),
        statementDeadlineMillis: Duration.toMillis(options.statementDeadline ?? statementDeadline),
        Client: OneQueryAtATimeClient
      }
      const pool = new pg.Pool(config)
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
