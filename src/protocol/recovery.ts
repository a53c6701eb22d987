// What a restarted rank learns from its write-ahead log (never from its text log, which is only an
// audit): the commits above its last snapshot (so it never writes a seq twice and its state
// machine replays them), how far its generate counter went (so ids stay unique), and its own
// instances not committed yet, pending or bound to a seq (so none is lost or proposed twice).
import type { StorageRecord } from "./effects.js";
import type { Value } from "./leader_plan.js";
import { cmdAt } from "./messages.js";

export interface RecoveredState {
  /** The last seq the snapshot restored covers (-1: none). */
  snapshotSeq: number;
  /** Commits at snapshotSeq+1, snapshotSeq+2, ... (contiguous). */
  commits: Value[];
  /** The next value of this rank's generate counter. */
  generated: number;
  /** Own instances not committed and not bound at or above the commit index, in proposal order. */
  pending: Value[];
  /** Own instances bound at or above the commit index (they may only be proposed there). */
  bindings: Map<number, Value>;
  /** Own instances bound at a seq the snapshot covers, their commit not in the records (a peer's
   * snapshot was installed over them): whether they were chosen there is unknown, so they are
   * neither proposed again nor waited for; the rank says so in its text log again. */
  unknown: Array<{ id: string; seq: number }>;
  /** Records that did not fit (a commit record out of order); reported, not fatal. */
  problems: string[];
}

function values(rec: { ids: string[]; cmds?: Uint8Array[] }): Value[] {
  return rec.ids.map((id, i) => ({ id, cmd: cmdAt(rec.cmds, i) }));
}

/** The counter in one of this rank's own ids (`<me>-<counter>`), or -1 for anyone else's. */
function ownCounter(id: string, prefix: string): number {
  if (!id.startsWith(prefix)) return -1;
  const k = Number(id.slice(prefix.length));
  return Number.isSafeInteger(k) && k >= 0 ? k : -1;
}

/** Commits found in the records, contiguous from snapshotSeq+1. */
function committedAbove(
  records: readonly StorageRecord[],
  snapshotSeq: number,
  problems: string[],
) {
  const bySeq = new Map<number, Value>();
  const committedIds = new Set<string>();
  for (const rec of records) {
    if (rec.r !== "commit") continue;
    values(rec).forEach((v, i) => {
      committedIds.add(v.id);
      if (rec.seq + i > snapshotSeq) bySeq.set(rec.seq + i, v);
    });
  }
  const commits: Value[] = [];
  for (let s = snapshotSeq + 1, v = bySeq.get(s); v; v = bySeq.get(++s)) commits.push(v);
  const end = snapshotSeq + 1 + commits.length;
  const beyond = [...bySeq.keys()].filter((s) => s > end).length;
  if (beyond > 0) problems.push(`${beyond} commits above a missing seq ${end}: fetched again`);
  return { commits, committedIds };
}

export function recoverState(
  records: readonly StorageRecord[],
  me: number,
  snapshotSeq: number,
): RecoveredState {
  const problems: string[] = [];
  const { commits, committedIds } = committedAbove(records, snapshotSeq, problems);
  const commitIndex = snapshotSeq + 1 + commits.length;
  const prefix = `${me}-`;
  let generated = 0;
  const own = new Map<string, Value>(); // proposal order: a Map keeps insertion order
  const boundAt = new Map<string, number>(); // the latest binding of each instance wins
  const note = (v: Value) => {
    generated = Math.max(generated, ownCounter(v.id, prefix) + 1);
    if (!own.has(v.id)) own.set(v.id, v);
  };
  for (const rec of records) {
    if (rec.r === "gen") generated = Math.max(generated, rec.next);
    else if (rec.r === "propose")
      values(rec).forEach((v) => {
        note(v);
        boundAt.delete(v.id); // proposed again after a binding: another value won that seq
      });
    else if (rec.r === "bind")
      values(rec).forEach((v, i) => {
        note(v);
        boundAt.set(v.id, rec.seq + i);
      });
  }
  const bindings = new Map<number, Value>();
  const pending: Value[] = [];
  const unknown: Array<{ id: string; seq: number }> = [];
  for (const [id, v] of own) {
    if (committedIds.has(id)) continue;
    const seq = boundAt.get(id);
    if (seq === undefined) pending.push(v);
    else if (seq >= commitIndex) bindings.set(seq, v);
    else if (seq <= snapshotSeq) unknown.push({ id, seq });
    else pending.push(v); // its seq committed another value
  }
  return { snapshotSeq, commits, generated, pending, bindings, unknown, problems };
}
