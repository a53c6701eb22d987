// The acceptor's accepted entries: for each seq at or above the floor, the round it was last
// accepted in, the instance id and its command. Seqs above the floor form a dense range, so plain arrays
// indexed by (seq - base) are used instead of a Map (cheap writes at high rates).
import { NO_OP, type AcceptedRun } from "./messages.js";

export class AcceptedLog {
  /** Seq of index `head` in the arrays. */
  private base = 0;
  private head = 0;
  private rounds: number[] = [];
  private ids: (string | undefined)[] = [];
  private cmds: Uint8Array[] = [];

  /** Seqs below floor are dropped; set() below it is ignored. */
  get floor(): number {
    return this.base;
  }

  /** One past the highest seq ever stored (or the floor if nothing is). */
  get end(): number {
    return this.base + this.rounds.length - this.head;
  }

  get(seq: number): { round: number; id: string; cmd: Uint8Array } | undefined {
    if (seq < this.base) return undefined;
    const i = this.head + seq - this.base;
    const id = this.ids[i];
    if (id === undefined) return undefined;
    return { round: this.rounds[i] as number, id, cmd: this.cmds[i] ?? NO_OP };
  }

  set(seq: number, round: number, id: string, cmd: Uint8Array = NO_OP): void {
    if (seq < this.base) return;
    const i = this.head + seq - this.base;
    while (this.rounds.length < i) {
      this.rounds.push(-1);
      this.ids.push(undefined);
      this.cmds.push(NO_OP);
    }
    this.rounds[i] = round;
    this.ids[i] = id;
    this.cmds[i] = cmd;
  }

  /** Forget everything below seq (those seqs are chosen and live in the committed log). */
  raiseFloor(seq: number): void {
    if (seq <= this.base) return;
    const drop = Math.min(seq - this.base, this.rounds.length - this.head);
    this.head += drop;
    this.base = seq;
    // Dropped commands are released at once (they may be large); the arrays shrink now and then.
    for (let i = this.head - drop; i < this.head; i++) this.cmds[i] = NO_OP;
    if (this.head >= this.rounds.length) {
      this.rounds = [];
      this.ids = [];
      this.cmds = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.rounds.length) {
      this.rounds = this.rounds.slice(this.head);
      this.ids = this.ids.slice(this.head);
      this.cmds = this.cmds.slice(this.head);
      this.head = 0;
    }
  }

  /** Entries at or above from, as runs of consecutive seqs accepted in the same round (with
   * their commands only where some command of the run is not a no-op). */
  runsFrom(from: number): AcceptedRun[] {
    const runs: Array<[number, number, string[], Uint8Array[]]> = [];
    let current: [number, number, string[], Uint8Array[]] | undefined;
    for (let seq = Math.max(from, this.base); seq < this.end; seq++) {
      const i = this.head + seq - this.base;
      const id = this.ids[i];
      if (id === undefined) {
        current = undefined;
        continue;
      }
      const round = this.rounds[i] as number;
      const cmd = this.cmds[i] ?? NO_OP;
      if (current && current[1] === round && current[0] + current[2].length === seq) {
        current[2].push(id);
        current[3].push(cmd);
      } else {
        current = [seq, round, [id], [cmd]];
        runs.push(current);
      }
    }
    return runs.map((r) => (r[3].some((c) => c.length > 0) ? r : [r[0], r[1], r[2]]));
  }

  /** Number of seqs held in memory (for compaction tests and memory reports). */
  get size(): number {
    return this.rounds.length - this.head;
  }
}
