// The committed values of one rank, seq -> instance id and command, contiguous from `start`.
// Seqs every rank has committed, or that a snapshot covers, can be forgotten (compact): a peer that
// still needs them gets the snapshot instead.
import { NO_OP } from "./messages.js";

export class CommitLog {
  private base = 0;
  private ids: string[] = [];
  private cmds: Uint8Array[] = [];
  /** Bytes of the commands held. */
  bytes = 0;

  /** One past the last committed seq (the commit index). */
  get length(): number {
    return this.base + this.ids.length;
  }

  /** The lowest seq still held in memory. */
  get start(): number {
    return this.base;
  }

  get(seq: number): string | undefined {
    return seq >= this.base ? this.ids[seq - this.base] : undefined;
  }

  cmd(seq: number): Uint8Array {
    return (seq >= this.base ? this.cmds[seq - this.base] : undefined) ?? NO_OP;
  }

  push(id: string, cmd: Uint8Array = NO_OP): void {
    this.ids.push(id);
    this.cmds.push(cmd);
    this.bytes += cmd.length;
  }

  /** Ids of [from, to) that are still held (an empty list if from was compacted away). */
  slice(from: number, to: number): string[] {
    if (from < this.base) return [];
    return this.ids.slice(from - this.base, to - this.base);
  }

  /** Commands of [from, to), like slice. */
  sliceCmds(from: number, to: number): Uint8Array[] {
    if (from < this.base) return [];
    return this.cmds.slice(from - this.base, to - this.base);
  }

  /** Forget every seq below upTo. */
  compact(upTo: number): void {
    const drop = Math.min(upTo, this.length) - this.base;
    if (drop <= 0) return;
    for (let i = 0; i < drop; i++) this.bytes -= (this.cmds[i] as Uint8Array).length;
    this.ids = this.ids.slice(drop);
    this.cmds = this.cmds.slice(drop);
    this.base += drop;
  }

  /** Forget everything: the log goes on from seq `from` (a snapshot covers what is below). */
  restartAt(from: number): void {
    this.ids = [];
    this.cmds = [];
    this.bytes = 0;
    this.base = from;
  }
}
