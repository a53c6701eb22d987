// One Bayou server as a pure state machine (no I/O, no time, no randomness): client reads and
// writes with the session-guarantee checks, the primary's commits, anti-entropy as two pure steps
// (Petersen et al. '97: the receiver describes what it has, the sender answers with exactly what
// it lacks, in log order), creation and retirement writes, and primary hand-off. A shell (process,
// simulator) carries AntiEntropyRequest / AntiEntropyBatch between servers.
import { invariant } from "../protocol/assert.js";
import { childName, nameKey, nameOf, ROOT_KEY, type NameKey } from "./names.js";
import { VersionVector, type Missing } from "./vectors.js";
import { WriteLog, type LogBase, type Op, type Write } from "./write_log.js";

export interface AntiEntropyRequest {
  /** The receiver's version vector and the highest CSN it knows. */
  vector: [NameKey, number][];
  csn: number;
}

export type AntiEntropyItem =
  | { kind: "write"; write: Write }
  /** The receiver has this write tentatively: it is now stable with this CSN. */
  | { kind: "commit"; server: NameKey; stamp: number; csn: number };

export interface AntiEntropyBatch {
  /** A full transfer (the receiver is behind the sender's truncation): start from this base. */
  full: { base: LogBase; senderVector: [NameKey, number][] } | null;
  items: AntiEntropyItem[];
  /** The sender is a retiring primary: the receiver becomes the primary. */
  handoffPrimary: boolean;
}

export type ReadResult =
  | { kind: "value"; url: string; relevant: VersionVector }
  | { kind: "err_key"; relevant: VersionVector }
  | { kind: "err_dep" };

export type WriteResult = { accepted: true; write: Write } | { accepted: false };

/**
 * How a vector's missing entry resolves (Petersen's "kicker" rule). The root is in every vector
 * from birth, so a missing root retired. A missing ⟨T, C⟩ retired and was forgotten when the
 * holder has seen C's write T (the creation itself): all its writes are here (Infinity);
 * otherwise the holder has not heard of it yet (-Infinity: none of its writes are here).
 */
export function missingIn(v: VersionVector): Missing {
  const resolve: Missing = (key) => {
    const name = nameOf(key);
    if (name.kind === "root") return Infinity;
    return v.get(nameKey(name.creator), resolve) >= name.stamp ? Infinity : -Infinity;
  };
  return resolve;
}

export class ServerCore {
  private readonly log = new WriteLog();
  private readonly v: VersionVector;
  private clock: number;
  private primary: boolean;
  private retired = false;

  private constructor(
    readonly name: NameKey,
    primary: boolean,
    clock: number,
  ) {
    this.primary = primary;
    this.clock = clock;
    this.v = new VersionVector([[name, clock]]);
    if (name !== ROOT_KEY) this.v.set(ROOT_KEY, 0);
  }

  /** The first server: the root name, the primary. */
  static root(): ServerCore {
    return new ServerCore(ROOT_KEY, true, 0);
  }

  /** What a server about to join sends its creator (it has seen nothing, not even the root). */
  static joinRequest(): AntiEntropyRequest {
    return { vector: [[ROOT_KEY, 0]], csn: 0 };
  }

  /** A new server named by its creator's createServer, started from the creator's batch for
   * joinRequest (which holds the creation write, so the new server knows its own birth). */
  static join(name: NameKey, bootstrap: AntiEntropyBatch): ServerCore {
    const n = nameOf(name);
    invariant(n.kind === "child", () => `a joining server has a child name, not ${name}`);
    const s = new ServerCore(name, false, n.stamp);
    s.receive(bootstrap);
    return s;
  }

  get isPrimary(): boolean {
    return this.primary;
  }

  get isRetired(): boolean {
    return this.retired;
  }

  get csn(): number {
    return this.log.csn;
  }

  get logicalClock(): number {
    return this.clock;
  }

  vector(): VersionVector {
    return this.v.clone();
  }

  writes(): Write[] {
    return this.log.writes();
  }

  stableWrites(): readonly Write[] {
    return this.log.stableWrites();
  }

  printLog(): string[] {
    return this.log.printLog();
  }

  db(): ReadonlyMap<string, string> {
    return this.log.db;
  }

  /** The DB replayed from scratch (always equal to db(); for checks). */
  replayDb(): Map<string, string> {
    return this.log.replay();
  }

  /** Drops the stable prefix up to CSN upTo from the log (into the O vector and OSN). */
  truncate(upTo: number): void {
    this.log.truncate(Math.min(upTo, this.log.csn));
  }

  /** Whether this server has seen everything the client depends on. */
  covers(deps: VersionVector): boolean {
    return this.v.dominates(deps, missingIn(this.v));
  }

  /** A client's put/delete: dropped (still answered) when the server lacks its dependencies. */
  clientWrite(op: Op & { kind: "put" | "delete" }, deps: VersionVector): WriteResult {
    this.live();
    if (!this.covers(deps)) return { accepted: false };
    return { accepted: true, write: this.accept(op) };
  }

  /** A client's read: the dependency check first, then the value or ERR_KEY. */
  read(song: string, deps: VersionVector): ReadResult {
    this.live();
    if (!this.covers(deps)) return { kind: "err_dep" };
    // The writes that made this value (Terry's RelevantWrites): every write to the song here.
    const relevant = new VersionVector();
    for (const w of this.log.writes()) {
      if ((w.op.kind === "put" || w.op.kind === "delete") && w.op.song === song) {
        relevant.advance(w.server, w.stamp);
      }
    }
    const url = this.log.db.get(song);
    return url === undefined ? { kind: "err_key", relevant } : { kind: "value", url, relevant };
  }

  /** A creation write for a new server; returns its name (bootstrap it with antiEntropyFor). */
  createServer(): NameKey {
    this.live();
    const w = this.accept({ kind: "create" });
    const child = nameKey(childName(w.stamp, nameOf(this.name)));
    this.v.set(child, 0);
    return child;
  }

  /** What this server, as a receiver, sends to open an anti-entropy session. */
  antiEntropyRequest(): AntiEntropyRequest {
    this.live();
    return { vector: this.v.entries(), csn: this.log.csn };
  }

  /** As the sender: everything the receiver lacks, in this log's order. */
  antiEntropyFor(req: AntiEntropyRequest): AntiEntropyBatch {
    this.live();
    const { osn } = this.log.omitted;
    if (osn > req.csn) {
      // Behind the truncation: the omitted writes are gone; ship the base and the whole log.
      const items = this.log.writes().map((write): AntiEntropyItem => ({ kind: "write", write }));
      const full = { base: this.log.baseCopy(), senderVector: this.v.entries() };
      return { full, items, handoffPrimary: false };
    }
    const rv = new VersionVector(req.vector);
    const miss = missingIn(rv);
    const items: AntiEntropyItem[] = [];
    for (const w of this.log.stableWrites()) {
      if (w.csn === null || w.csn <= req.csn) continue;
      if (rv.get(w.server, miss) >= w.stamp) {
        items.push({ kind: "commit", server: w.server, stamp: w.stamp, csn: w.csn });
      } else items.push({ kind: "write", write: w });
    }
    for (const w of this.log.tentativeWrites()) {
      if (rv.get(w.server, miss) < w.stamp) items.push({ kind: "write", write: w });
    }
    return { full: null, items, handoffPrimary: false };
  }

  /**
   * What this server holds, as a sender describes it for hasAllOf: its vector raised by every
   * write in its log. (A retired server leaves the vector while its writes may still be here,
   * tentative; the vector alone would hide them.)
   */
  holdings(): AntiEntropyRequest {
    this.live();
    const v = this.v.clone();
    for (const w of this.log.writes()) v.advance(w.server, w.stamp);
    return { vector: v.entries(), csn: this.log.csn };
  }

  /**
   * Whether a sender that holds `sender` (its holdings()) has nothing for this server:
   * no write this one lacks and no commit it does not know. Exact in that direction: false only
   * means a session must look.
   */
  hasAllOf(sender: AntiEntropyRequest): boolean {
    if (sender.csn > this.log.csn) return false;
    const miss = missingIn(this.v);
    return sender.vector.every(([server, stamp]) => this.v.get(server, miss) >= stamp);
  }

  /**
   * The other direction: whether a server that holds `other` (its holdings()) has everything this
   * one holds, so a session from here to it would move nothing. False only means "not known".
   */
  coveredBy(other: AntiEntropyRequest): boolean {
    const mine = this.holdings();
    if (mine.csn > other.csn) return false;
    const ov = new VersionVector(other.vector);
    const miss = missingIn(ov);
    return mine.vector.every(([server, stamp]) => ov.get(server, miss) >= stamp);
  }

  /** Whether an anti-entropy session from this server to that receiver would change anything. */
  wouldMove(req: AntiEntropyRequest): boolean {
    const b = this.antiEntropyFor(req);
    return b.full !== null || b.items.length > 0;
  }

  /** As the receiver: merges a batch (undo/redo in the log, clock and vector advance). */
  receive(batch: AntiEntropyBatch): void {
    this.live();
    let keep: Write[] = [];
    if (batch.full !== null) keep = this.restart(batch.full);
    for (const item of batch.items) {
      if (item.kind === "commit") this.commitKnown(item.server, item.stamp, item.csn);
      else this.take(item.write);
    }
    for (const w of keep) this.take(w);
    if (batch.handoffPrimary) this.becomePrimary();
  }

  /** Writes this server's retirement and its last batch for the receiver (which, when this was
   * the primary, takes the role). The server is retired afterwards. */
  retireTo(req: AntiEntropyRequest): AntiEntropyBatch {
    this.live();
    this.accept({ kind: "retire" });
    const batch = { ...this.antiEntropyFor(req), handoffPrimary: this.primary };
    this.primary = false;
    this.retired = true;
    return batch;
  }

  private live(): void {
    invariant(!this.retired, () => `server ${this.name} is retired`);
  }

  /** A write accepted here: the next stamp of the logical clock; the primary commits at once. */
  private accept(op: Op): Write {
    this.clock += 1;
    const w: Write = { server: this.name, stamp: this.clock, csn: null, op };
    if (this.primary) this.log.appendStable({ ...w, csn: this.log.csn + 1 });
    else this.log.insertTentative(w);
    this.v.set(this.name, this.clock);
    return w;
  }

  private commitKnown(server: NameKey, stamp: number, csn: number): void {
    if (csn <= this.log.csn) return;
    this.log.commit(server, stamp, csn);
  }

  /** One write from a sender: new ones enter the log, known tentative ones may be committed. */
  private take(w: Write): void {
    if (this.v.get(w.server, missingIn(this.v)) >= w.stamp) {
      const mine = this.log.get(w.server, w.stamp);
      if (w.csn !== null && mine !== undefined && mine.csn === null) {
        this.commitKnown(w.server, w.stamp, w.csn);
      }
      return;
    }
    this.clock = Math.max(this.clock, w.stamp);
    if (w.csn !== null) this.log.appendStable(w);
    else if (this.primary) this.log.appendStable({ ...w, csn: this.log.csn + 1 });
    else this.log.insertTentative(w);
    this.v.set(w.server, w.stamp);
    // The creation write is the moment its server enters the vector (before, the kicker rule
    // would take the missing entry for a forgotten one); the retirement is when it leaves.
    if (w.op.kind === "create") this.v.set(nameKey(childName(w.stamp, nameOf(w.server))), 0);
    if (w.op.kind === "retire") this.v.delete(w.server);
  }

  /** A full transfer: restart from the sender's base, keeping the tentative writes it lacks. */
  private restart(full: { base: LogBase; senderVector: [NameKey, number][] }): Write[] {
    const sv = new VersionVector(full.senderVector);
    const miss = missingIn(sv);
    const keep = this.log
      .tentativeWrites()
      .filter((w) => sv.get(w.server, miss) < w.stamp)
      .map((w) => ({ ...w }));
    this.log.resetTo(full.base);
    // The vector restarts from O (minus servers the sender forgot); the items raise it again.
    for (const k of this.v.keys()) this.v.delete(k);
    for (const [k, s] of full.base.o.entries()) if (sv.has(k)) this.v.set(k, s);
    for (const k of [...sv.keys(), this.name]) if (!this.v.has(k)) this.v.set(k, 0);
    return keep;
  }

  private becomePrimary(): void {
    this.primary = true;
    // Commit what is still tentative here, in this log's order (that is the order it "sees" them).
    for (
      let t = this.log.tentativeWrites()[0];
      t !== undefined;
      t = this.log.tentativeWrites()[0]
    ) {
      this.log.commit(t.server, t.stamp, this.log.csn + 1);
    }
  }
}
