// Version vectors over server names: for each server, the highest accept-stamp of its writes
// that this holder has seen. Because anti-entropy sends a server's writes in stamp order (the
// prefix property), V[X] = s means "every write of X with stamp <= s is here".
// A missing entry is ambiguous (never heard of X, or X retired and was forgotten): callers that
// must resolve it pass a `missing` function (server_core.ts decides with the name's creation stamp).
import type { NameKey } from "./names.js";

export type VectorOrder = "equal" | "before" | "after" | "concurrent";

/** What a missing entry counts as: a stamp, -Infinity (unknown) or Infinity (all seen). */
export type Missing = (server: NameKey) => number;

const ZERO: Missing = () => 0;

export class VersionVector {
  private readonly m: Map<NameKey, number>;

  constructor(entries: Iterable<readonly [NameKey, number]> = []) {
    this.m = new Map(entries);
  }

  has(server: NameKey): boolean {
    return this.m.has(server);
  }

  /** The entry, or what `missing` says for an absent one (0 by default: nothing seen). */
  get(server: NameKey, missing: Missing = ZERO): number {
    return this.m.get(server) ?? missing(server);
  }

  set(server: NameKey, stamp: number): void {
    this.m.set(server, stamp);
  }

  /** Raises the entry to stamp (never lowers it). */
  advance(server: NameKey, stamp: number): void {
    if ((this.m.get(server) ?? -Infinity) < stamp) this.m.set(server, stamp);
  }

  delete(server: NameKey): void {
    this.m.delete(server);
  }

  keys(): NameKey[] {
    return [...this.m.keys()];
  }

  entries(): [NameKey, number][] {
    return [...this.m.entries()];
  }

  get size(): number {
    return this.m.size;
  }

  clone(): VersionVector {
    return new VersionVector(this.m);
  }

  /** Entry-wise maximum, in place. */
  merge(other: VersionVector): this {
    for (const [k, s] of other.m) this.advance(k, s);
    return this;
  }

  /** Whether this has seen everything other has (absent entries of this resolved by missing). */
  dominates(other: VersionVector, missing: Missing = ZERO): boolean {
    for (const [k, s] of other.m) if (this.get(k, missing) < s) return false;
    return true;
  }

  compare(other: VersionVector, missing: Missing = ZERO): VectorOrder {
    const ge = this.dominates(other, missing);
    const le = other.dominates(this, missing);
    if (ge && le) return "equal";
    if (ge) return "after";
    if (le) return "before";
    return "concurrent";
  }

  toString(): string {
    const parts = this.entries().sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${parts.map(([k, s]) => `${k}:${s}`).join(" ")}}`;
  }
}

/**
 * What a log truncation leaves behind (Petersen §4): O, the highest stamp per server among the
 * writes dropped from the log, and OSN, the CSN of the last dropped (stable) write. A receiver
 * whose CSN is below the sender's OSN cannot be brought up to date write by write.
 */
export interface Omitted {
  o: VersionVector;
  osn: number;
}
