// Learning: values chosen by any leader (commit messages, fetched ranges) enter this rank's log in
// seq order, each as one `commit` line. A value that arrives ahead of a gap waits for the gap to
// fill. Committed seqs that every rank has committed can be forgotten.
import { invariant } from "./assert.js";
import { CommitLog } from "./commit_log.js";
import type { Effect } from "./effects.js";
import { commitLine } from "./log_lines.js";

export interface LearnerConfig {
  me: number;
  /** Emit a `committed` effect per commit (library users iterate commits). */
  emitCommits: boolean;
  /** Called for every commit, in seq order (the proposer settles its bindings). */
  onCommitted(seq: number, id: string): void;
}

export interface LearnerStats {
  committed: number;
  /** Chosen values that contradicted this rank's log (refused; see conflict). */
  conflicts: number;
}

const COMPACT_EVERY = 65_536;
const COMPACT_MARGIN = 1024;

export class Learner {
  readonly log = new CommitLog();
  /** Values known chosen above a gap, by seq. */
  private readonly ahead = new Map<number, string>();
  readonly stats: LearnerStats = { committed: 0, conflicts: 0 };

  constructor(private readonly cfg: LearnerConfig) {}

  get commitIndex(): number {
    return this.log.length;
  }

  /** Values known chosen above the commit index, waiting for a gap below them. */
  get hasGap(): boolean {
    return this.ahead.size > 0;
  }

  /** Neither committed nor known chosen: a leader may still allot it. */
  isOpen(seq: number): boolean {
    return seq >= this.log.length && !this.ahead.has(seq);
  }

  /** Restart: the commits the log file kept. */
  restore(commits: readonly string[]): void {
    for (const id of commits) this.log.push(id);
  }

  /** Values chosen at seq, seq+1, ...: apply them in order; later ones wait for the gap to fill. */
  applyChosen(seq: number, ids: readonly string[], nowUs: number, out: Effect[]): void {
    for (let i = 0; i < ids.length; i++) {
      const s = seq + i;
      const id = ids[i] as string;
      if (s < this.log.length) {
        const known = this.log.get(s);
        if (known !== undefined && known !== id) this.conflict(s, known, id, out);
      } else if (s === this.log.length && this.ahead.size === 0) this.commitOne(s, id, nowUs, out);
      else {
        const known = this.ahead.get(s);
        if (known !== undefined && known !== id) this.conflict(s, known, id, out);
        else this.ahead.set(s, id);
      }
    }
    for (
      let next = this.ahead.get(this.log.length);
      next !== undefined;
      next = this.ahead.get(this.log.length)
    ) {
      this.ahead.delete(this.log.length);
      this.commitOne(this.log.length, next, nowUs, out);
    }
  }

  /** Forget seqs below the lowest commit index of every rank (keeping a margin for stragglers). */
  maybeCompact(minAll: number): void {
    if (minAll - this.log.start >= COMPACT_EVERY) this.log.compact(minAll - COMPACT_MARGIN);
  }

  /** Two values chosen for one seq. It comes from a message, so it is refused, not asserted on (a
   * forged frame must not stop a rank), and said loudly: the simulator counts it as a violation. */
  private conflict(seq: number, kept: string, other: string, out: Effect[]): void {
    this.stats.conflicts++;
    if (this.stats.conflicts <= 3)
      out.push({
        kind: "warn",
        line: `rank ${this.cfg.me}: SAFETY VIOLATION: seq ${seq} committed as ${kept}, then offered as ${other}`,
      });
  }

  private commitOne(seq: number, id: string, nowUs: number, out: Effect[]): void {
    invariant(
      seq === this.log.length,
      () => `rank ${this.cfg.me}: commit at seq ${seq} with the commit index at ${this.log.length}`,
    );
    this.log.push(id);
    this.stats.committed++;
    out.push({ kind: "log", line: commitLine(id, seq, nowUs) });
    if (this.cfg.emitCommits) out.push({ kind: "committed", seq, id });
    this.cfg.onCommitted(seq, id);
  }
}
