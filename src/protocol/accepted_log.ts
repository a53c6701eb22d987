// The acceptor's accepted entries: for each seq at or above the floor, the round it was last
// accepted in and the instance id. Seqs above the floor form a dense range, so plain arrays
// indexed by (seq - base) are used instead of a Map (cheap writes at high rates).
import type { AcceptedRun } from "./messages.js";

export class AcceptedLog {
  /** Seq of index `head` in the arrays. */
  private base = 0;
  private head = 0;
  private rounds: number[] = [];
  private ids: (string | undefined)[] = [];

  /** Seqs below floor are dropped; set() below it is ignored. */
  get floor(): number {
    return this.base;
  }

  /** One past the highest seq ever stored (or the floor if nothing is). */
  get end(): number {
    return this.base + this.rounds.length - this.head;
  }

  get(seq: number): { round: number; id: string } | undefined {
    if (seq < this.base) return undefined;
    const i = this.head + seq - this.base;
    const id = this.ids[i];
    return id === undefined ? undefined : { round: this.rounds[i] as number, id };
  }

  set(seq: number, round: number, id: string): void {
    if (seq < this.base) return;
    const i = this.head + seq - this.base;
    while (this.rounds.length < i) {
      this.rounds.push(-1);
      this.ids.push(undefined);
    }
    this.rounds[i] = round;
    this.ids[i] = id;
  }

  /** Forget everything below seq (those seqs are chosen and live in the committed log). */
  raiseFloor(seq: number): void {
    if (seq <= this.base) return;
    const drop = Math.min(seq - this.base, this.rounds.length - this.head);
    this.head += drop;
    this.base = seq;
    if (this.head >= this.rounds.length) {
      this.rounds = [];
      this.ids = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.rounds.length) {
      this.rounds = this.rounds.slice(this.head);
      this.ids = this.ids.slice(this.head);
      this.head = 0;
    }
  }

  /** Entries at or above from, as runs of consecutive seqs accepted in the same round. */
  runsFrom(from: number): AcceptedRun[] {
    const runs: AcceptedRun[] = [];
    let current: AcceptedRun | undefined;
    for (let seq = Math.max(from, this.base); seq < this.end; seq++) {
      const i = this.head + seq - this.base;
      const id = this.ids[i];
      if (id === undefined) {
        current = undefined;
        continue;
      }
      const round = this.rounds[i] as number;
      if (current && current[1] === round && current[0] + current[2].length === seq)
        current[2].push(id);
      else {
        current = [seq, round, [id]];
        runs.push(current);
      }
    }
    return runs;
  }

  /** Number of seqs held in memory (for compaction tests and memory reports). */
  get size(): number {
    return this.rounds.length - this.head;
  }
}
