/**
 * A binary min-heap on a `before` order: the lines that hand out turns
 * (./ordered-turn.ts) and the progress messages waiting for Telegram's budget
 * (src/jobs/job-acknowledgement.ts) keep their waiters in one. Entries that gave up stay
 * in it until they surface or `retain` drops them: removing from the middle would need
 * each entry to know its index.
 */
export interface BinaryHeap<A> {
  readonly push: (entry: A) => void
  /** The first entry in order, removed; undefined when empty. */
  readonly pop: () => A | undefined
  readonly size: () => number
  /** Keeps only the entries `keep` accepts, in order. */
  readonly retain: (keep: (entry: A) => boolean) => void
}

export const makeBinaryHeap = <A>(before: (a: A, b: A) => boolean): BinaryHeap<A> => {
  let heap: Array<A> = []

  const push = (entry: A) => {
    heap.push(entry)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  const pop = (): A | undefined => {
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    heap[0] = last
    let i = 0
    while (true) {
      const left = 2 * i + 1
      const right = left + 1
      let least = i
      if (left < heap.length && before(heap[left]!, heap[least]!)) least = left
      if (right < heap.length && before(heap[right]!, heap[least]!)) least = right
      if (least === i) break
      ;[heap[i], heap[least]] = [heap[least]!, heap[i]!]
      i = least
    }
    return top
  }

  const retain = (keep: (entry: A) => boolean) => {
    const kept = heap.filter(keep)
    heap = []
    for (const entry of kept) push(entry)
  }

  return { push, pop, size: () => heap.length, retain }
}
