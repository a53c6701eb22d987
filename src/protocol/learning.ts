// Learning: values chosen by any leader (commit messages, fetched ranges) enter this rank's log in
// seq order, each as one `commit` line and a commit record in the write-ahead log (recovery's
// source). A value that arrives ahead of a gap waits for the gap to fill. Committed seqs that every
// rank has committed, or that the last snapshot covers, can be forgotten.
import { invariant } from "./assert.js";
import { CommitLog } from "./commit_log.js";
import type { Effect } from "./effects.js";
import { valuesRecord, type Value } from "./leader_plan.js";
import { commitLine } from "./log_lines.js";
import { cmdAt } from "./messages.js";

export interface LearnerConfig {
  me: number;
  /** Past this many bytes of commands held, the log keeps only what the last snapshot does not
   * cover (a peer that needs older seqs gets the snapshot). */
  heldBytes: number;
  /** Called for every commit, in seq order (the proposer settles its bindings); returns the
   * ticket of a submission this commit answers. */
  onCommitted(seq: number, id: string): number | undefined;
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
  private readonly ahead = new Map<number, Value>();
  /** Commits of the current step, for one commit record. */
  private run: { seq: number; values: Value[] } | null = null;
  /** The last seq the latest snapshot covers (-1: none): seqs above it are never forgotten. */
  private snapshotSeq = -1;
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

  /** Restart: the log goes on after the snapshot (snapshotSeq: the last seq it covers, -1: none)
   * with the commits the write-ahead log kept above it. */
  restore(snapshotSeq: number, commits: readonly Value[]): void {
    this.snapshotSeq = snapshotSeq;
    this.log.restartAt(snapshotSeq + 1);
    for (const v of commits) this.log.push(v.id, v.cmd);
  }

  /** A snapshot covering up to seq was saved: seqs up to it may be forgotten. */
  snapshotTaken(seq: number): void {
    this.snapshotSeq = Math.max(this.snapshotSeq, seq);
  }

  /** A peer's snapshot covering up to seq was installed: the log goes on after it. */
  installed(seq: number): void {
    this.snapshotTaken(seq);
    this.log.restartAt(seq + 1);
    for (const s of [...this.ahead.keys()]) if (s <= seq) this.ahead.delete(s);
  }

  /** Values chosen at seq, seq+1, ...: apply them in order; later ones wait for the gap to fill. */
  applyChosen(
    seq: number,
    ids: readonly string[],
    cmds: readonly Uint8Array[] | undefined,
    nowUs: number,
    out: Effect[],
  ): void {
    for (let i = 0; i < ids.length; i++) {
      const s = seq + i;
      const v = { id: ids[i] as string, cmd: cmdAt(cmds, i) };
      if (s < this.log.length) {
        const known = this.log.get(s);
        if (known !== undefined && known !== v.id) this.conflict(s, known, v.id, out);
      } else if (s === this.log.length && this.ahead.size === 0) this.commitOne(s, v, nowUs, out);
      else {
        const known = this.ahead.get(s);
        if (known !== undefined && known.id !== v.id) this.conflict(s, known.id, v.id, out);
        else this.ahead.set(s, v);
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
    this.flushRun(out);
  }

  /** Forget seqs below the lowest commit index of every rank (keeping a margin for stragglers),
   * never above the last snapshot; past heldBytes, everything the last snapshot covers. */
  maybeCompact(minAll: number): void {
    const covered = this.snapshotSeq + 1;
    if (this.log.bytes > this.cfg.heldBytes) this.log.compact(covered);
    else if (minAll - this.log.start >= COMPACT_EVERY)
      this.log.compact(Math.min(minAll - COMPACT_MARGIN, covered));
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

  private commitOne(seq: number, v: Value, nowUs: number, out: Effect[]): void {
    invariant(
      seq === this.log.length,
      () => `rank ${this.cfg.me}: commit at seq ${seq} with the commit index at ${this.log.length}`,
    );
    this.log.push(v.id, v.cmd);
    this.stats.committed++;
    if (this.run) this.run.values.push(v);
    else this.run = { seq, values: [v] };
    out.push({ kind: "log", line: commitLine(v.id, seq, nowUs), afterPersist: true });
    const ticket = this.cfg.onCommitted(seq, v.id);
    out.push(
      ticket === undefined
        ? { kind: "committed", seq, id: v.id, cmd: v.cmd }
        : { kind: "committed", seq, id: v.id, cmd: v.cmd, ticket },
    );
  }

  /** One commit record for the commits of this step (written with them, synced with the next
   * record that needs it: recovery only needs a prefix of them). */
  private flushRun(out: Effect[]): void {
    if (!this.run) return;
    out.push({
      kind: "persist",
      record: { r: "commit", seq: this.run.seq, ...valuesRecord(this.run.values) },
    });
    this.run = null;
  }
}
