/**
 * The runners that are live now, as the cluster's own runner table says: those whose
 * heartbeat is younger than the shard lock expiration (a runner that stops beating loses
 * its shards at that same age). Read with SQL because the cluster's RunnerStorage is
 * private to the runtime's layers. Postgres only: several runners exist only there. Fails
 * when the table cannot be read (before the first runner has created it, for one).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const liveRunnerAddresses = (expirationMs: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const seconds = Math.max(1, Math.ceil(expirationMs / 1000))
    const rows = yield* sql<{ address: string }>`
      SELECT address FROM cluster_runners WHERE last_heartbeat > NOW() - make_interval(secs => ${seconds})`
    return rows.map((row) => row.address)
  })
