// Pure pieces of the leader handler: what a read phase found (sync), how batches are packed into
// frames, and the book of offers it allots seqs from.
import type { GatherMsg, OfferState } from "./messages.js";

export interface SyncPlan {
  /** Every seq below this is chosen (the highest floor reported, or the read's base). */
  chosenBelow: number;
  /** The highest seq any gather reported at or above chosenBelow (chosenBelow - 1 if none). */
  maxSeen: number;
  /** For each open seq reported, the value accepted in the highest round: the one to re-impose. */
  best: Map<number, { round: number; id: string }>;
}

export function syncPlan(gathers: Iterable<GatherMsg>, readBase: number): SyncPlan {
  const all = [...gathers];
  let chosenBelow = readBase;
  for (const g of all) chosenBelow = Math.max(chosenBelow, g.floor);
  const best = new Map<number, { round: number; id: string }>();
  let maxSeen = chosenBelow - 1;
  for (const g of all) {
    for (const [first, round, ids] of g.runs) {
      ids.forEach((id, i) => {
        const seq = first + i;
        if (seq < chosenBelow) return;
        const cur = best.get(seq);
        if (!cur || cur.round < round) best.set(seq, { round, id });
        if (seq > maxSeen) maxSeen = seq;
      });
    }
  }
  return { chosenBelow, maxSeen, best };
}

/** Most ids in one merged frame. */
const MERGE_MAX = 4096;

/** Batches as frames: sorted by seq, adjacent ones joined (up to MERGE_MAX ids each). */
export function mergeRuns(
  batches: ReadonlyArray<{ seq: number; ids: string[] }>,
): Array<[number, string[]]> {
  const runs: Array<[number, string[]]> = [];
  let last: [number, string[]] | undefined;
  for (const b of [...batches].sort((x, y) => x.seq - y.seq)) {
    if (last && last[0] + last[1].length === b.seq && last[1].length + b.ids.length <= MERGE_MAX)
      last[1] = last[1].concat(b.ids);
    else runs.push((last = [b.seq, b.ids]));
  }
  return runs;
}

/** What the leader knows of each rank's waiting instances in its round: the newest offer state,
 * the ranks whose offer is still to be served (in arrival order), and the ranks with an allotment
 * outstanding (their grant brings their next offer). */
export class OfferBook {
  private readonly states = new Map<number, OfferState>();
  readonly ready = new Set<number>();
  readonly allotted = new Set<number>();

  clear(): void {
    this.states.clear();
    this.ready.clear();
    this.allotted.clear();
  }

  /** Keep the newest state a rank reported (its counters only grow within one life). */
  learn(rank: number, state: OfferState): void {
    const known = this.states.get(rank);
    if (!known || known.epoch !== state.epoch || (state.enq >= known.enq && state.deq >= known.deq))
      this.states.set(rank, state);
  }

  /** How many seqs to allot a rank: its pending instances, or enough to reach a seq it has an
   * instance bound to (that instance can only be proposed there). */
  allotment(rank: number, nextSeq: number): number {
    const o = this.states.get(rank);
    return o ? Math.max(o.enq - o.deq, o.upTo + 1 - nextSeq) : 0;
  }
}
