// The committed values of one rank, seq -> instance id, contiguous from 0. Seqs that every rank has
// committed can be forgotten (compact): nobody will ask for them again.
export class CommitLog {
  private base = 0;
  private ids: string[] = [];

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

  push(id: string): void {
    this.ids.push(id);
  }

  /** Ids of [from, to) that are still held (an empty list if from was compacted away). */
  slice(from: number, to: number): string[] {
    if (from < this.base) return [];
    return this.ids.slice(from - this.base, to - this.base);
  }

  /** Forget every seq below upTo. */
  compact(upTo: number): void {
    const drop = Math.min(upTo, this.length) - this.base;
    if (drop <= 0) return;
    this.ids = this.ids.slice(drop);
    this.base += drop;
  }
}
