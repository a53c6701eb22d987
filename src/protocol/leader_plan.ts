// Pure pieces of the leader handler: what a read phase found (sync), how batches are packed into
// frames, and the book of offers it allots seqs from.
import { BATCH_BYTES, cmdAt, withCmds, type GatherMsg, type OfferState } from "./messages.js";

/** A value to impose: an instance and its command. */
export interface Value {
  id: string;
  cmd: Uint8Array;
}

export interface SyncPlan {
  /** Every seq below this is chosen (the highest floor reported, or the read's base). */
  chosenBelow: number;
  /** The highest seq any gather reported at or above chosenBelow (chosenBelow - 1 if none). */
  maxSeen: number;
  /** For each open seq reported, the value accepted in the highest round: the one to re-impose. */
  best: Map<number, { round: number; id: string; cmd: Uint8Array }>;
}

export function syncPlan(gathers: Iterable<GatherMsg>, readBase: number): SyncPlan {
  const all = [...gathers];
  let chosenBelow = readBase;
  for (const g of all) chosenBelow = Math.max(chosenBelow, g.floor);
  const best = new Map<number, { round: number; id: string; cmd: Uint8Array }>();
  let maxSeen = chosenBelow - 1;
  for (const g of all) {
    for (const [first, round, ids, cmds] of g.runs) {
      ids.forEach((id, i) => {
        const seq = first + i;
        if (seq < chosenBelow) return;
        const cur = best.get(seq);
        if (!cur || cur.round < round) best.set(seq, { round, id, cmd: cmdAt(cmds, i) });
        if (seq > maxSeen) maxSeen = seq;
      });
    }
  }
  return { chosenBelow, maxSeen, best };
}

/** Values in the shape messages and records carry them (ids, and cmds unless all are no-ops). */
export function valuesRecord(values: readonly Value[]): { ids: string[]; cmds?: Uint8Array[] } {
  return withCmds(
    values.map((v) => v.id),
    values.map((v) => v.cmd),
  );
}

/** Most ids in one merged frame. */
const MERGE_MAX = 4096;

/** A run of consecutive seqs and their values; cmds absent: all no-ops. */
export interface Run {
  seq: number;
  ids: string[];
  cmds?: Uint8Array[];
}

/** Bytes of a run's commands. */
export function cmdBytes(cmds: readonly Uint8Array[] | undefined): number {
  let bytes = 0;
  if (cmds) for (const c of cmds) bytes += c.length;
  return bytes;
}

/** Batches as frames: sorted by seq, adjacent ones joined (up to MERGE_MAX ids and BATCH_BYTES of
 * commands each, a lone larger batch aside). */
export function mergeRuns(batches: readonly Run[]): Run[] {
  const runs: Run[] = [];
  let last: (Run & { bytes: number }) | undefined;
  for (const b of [...batches].sort((x, y) => x.seq - y.seq)) {
    const bytes = cmdBytes(b.cmds);
    if (
      last &&
      last.seq + last.ids.length === b.seq &&
      last.ids.length + b.ids.length <= MERGE_MAX &&
      last.bytes + bytes <= BATCH_BYTES
    ) {
      if (last.cmds || b.cmds)
        last.cmds = padCmds(last.cmds, last.ids.length).concat(padCmds(b.cmds, b.ids.length));
      last.ids = last.ids.concat(b.ids);
      last.bytes += bytes;
    } else {
      last = { seq: b.seq, ids: b.ids, bytes, ...(b.cmds ? { cmds: b.cmds } : {}) };
      runs.push(last);
    }
  }
  return runs.map(({ seq, ids, cmds }) => (cmds ? { seq, ids, cmds } : { seq, ids }));
}

function padCmds(cmds: Uint8Array[] | undefined, n: number): Uint8Array[] {
  return cmds ?? Array.from({ length: n }, () => cmdAt(undefined, 0));
}

/** Split values into runs of at most maxCount values and maxBytes of commands (a single larger
 * command makes a run of its own). cmds are left out of runs of no-ops only. */
export function cutRuns(seq: number, values: readonly Value[], maxCount: number): Run[] {
  const runs: Run[] = [];
  let start = 0;
  while (start < values.length) {
    let end = start;
    let bytes = 0;
    while (end < values.length && end - start < maxCount) {
      const size = (values[end] as Value).cmd.length;
      if (end > start && bytes + size > BATCH_BYTES) break;
      bytes += size;
      end++;
    }
    runs.push({ seq: seq + start, ...valuesRecord(values.slice(start, end)) });
    start = end;
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
