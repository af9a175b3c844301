import { describe, expect, it } from "@effect/vitest"
import { JobId } from "../../src/domain/ids.js"
import { queuedTransferLeaseMs } from "../../src/jobs/job-policy.js"
import { leasesToKeep } from "../../src/jobs/photo-uploads.js"

const now = 10 * 60 * 60_000
const job = (n: number) => JobId.make(`job_${n.toString(16).padStart(24, "0")}`)

describe("the transfer queue's leases", () => {
  it("renews a lease a third of the way in or never renewed, and gives up the jobs whose shard moved", () => {
    const [never, fresh, aThirdIn, movedFresh, movedNever] = [1, 2, 3, 4, 5].map(job)
    const waiting = new Map([
      [never!, Number.NEGATIVE_INFINITY],
      [fresh!, now - queuedTransferLeaseMs / 3 + 1_000],
      [aThirdIn!, now - queuedTransferLeaseMs / 3],
      [movedFresh!, now - 1_000],
      [movedNever!, Number.NEGATIVE_INFINITY]
    ])
    const elsewhere = new Set([movedFresh, movedNever])
    expect(leasesToKeep(waiting, now, (jobId) => !elsewhere.has(jobId))).toEqual({
      due: [never, aThirdIn],
      moved: [movedFresh, movedNever]
    })
  })

  it("keeps nothing for an empty queue, and moves nothing while every shard is here", () => {
    expect(leasesToKeep(new Map(), now, () => false)).toEqual({ due: [], moved: [] })
    const waiting = new Map([[job(1), now], [job(2), now - queuedTransferLeaseMs]])
    expect(leasesToKeep(waiting, now, () => true)).toEqual({ due: [job(2)], moved: [] })
  })
})
