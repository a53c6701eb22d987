// The write log of one Bayou server (Terry et al. '95, Petersen et al. '97): a stable prefix in
// commit order (CSNs from the primary), then a tentative suffix ordered by (accept-stamp, server
// name). The playlist DB is always the result of applying the log in that order to the base (the
// DB as of the truncation point): a write that sorts before tentative ones undoes them, goes in,
// and redoes them, as Bayou's servers roll back and re-apply.
import { invariant } from "../protocol/assert.js";
import { compareNameKeys, type NameKey } from "./names.js";
import { VersionVector, type Omitted } from "./vectors.js";

export type Op =
  | { kind: "put"; song: string; url: string }
  | { kind: "delete"; song: string }
  /** Creates the server named ⟨this write's stamp, this write's server⟩. */
  | { kind: "create" }
  /** The last write of its server: it leaves every version vector. */
  | { kind: "retire" };

export interface Write {
  readonly server: NameKey;
  readonly stamp: number;
  /** The commit sequence number, or null while tentative. */
  readonly csn: number | null;
  readonly op: Op;
}

export function writeId(server: NameKey, stamp: number): string {
  return `${stamp}@${server}`;
}

/** The tentative order: accept-stamp, then server name. */
export function compareTentative(a: Write, b: Write): number {
  if (a.stamp !== b.stamp) return a.stamp < b.stamp ? -1 : 1;
  return compareNameKeys(a.server, b.server);
}

/** The spec's printLog line, or null for creation and retirement writes. */
export function logLine(w: Write): string | null {
  const stable = w.csn !== null ? "TRUE" : "FALSE";
  if (w.op.kind === "put") return `PUT:(${w.op.song}, ${w.op.url}):${stable}`;
  if (w.op.kind === "delete") return `DELETE:(${w.op.song}):${stable}`;
  return null;
}

/** Applies one write to a DB; returns what it overwrote (for undo). Membership writes: nothing. */
function apply(db: Map<string, string>, op: Op): string | undefined {
  if (op.kind !== "put" && op.kind !== "delete") return undefined;
  const before = db.get(op.song);
  if (op.kind === "put") db.set(op.song, op.url);
  else db.delete(op.song);
  return before;
}

function unapply(db: Map<string, string>, op: Op, before: string | undefined): void {
  if (op.kind !== "put" && op.kind !== "delete") return;
  if (before === undefined) db.delete(op.song);
  else db.set(op.song, before);
}

/** The state below the log: the DB after the omitted writes, with O and OSN. */
export interface LogBase extends Omitted {
  db: Map<string, string>;
}

export class WriteLog {
  private stable: Write[] = [];
  private tentative: Write[] = [];
  /** undo[i]: the value tentative[i] overwrote when applied (parallel to tentative). */
  private undo: (string | undefined)[] = [];
  private readonly byId = new Map<string, Write>();
  private base: LogBase = { db: new Map(), o: new VersionVector(), osn: 0 };
  private dbNow = new Map<string, string>();

  /** The highest CSN here (OSN when the stable part is empty). */
  get csn(): number {
    return this.base.osn + this.stable.length;
  }

  get omitted(): Omitted {
    return { o: this.base.o.clone(), osn: this.base.osn };
  }

  /** The base (DB at OSN, O, OSN), copied: what a full transfer ships. */
  baseCopy(): LogBase {
    return { db: new Map(this.base.db), o: this.base.o.clone(), osn: this.base.osn };
  }

  get db(): ReadonlyMap<string, string> {
    return this.dbNow;
  }

  get(server: NameKey, stamp: number): Write | undefined {
    return this.byId.get(writeId(server, stamp));
  }

  stableWrites(): readonly Write[] {
    return this.stable;
  }

  tentativeWrites(): readonly Write[] {
    return this.tentative;
  }

  /** Stable writes, then tentative ones: the log order. */
  writes(): Write[] {
    return [...this.stable, ...this.tentative];
  }

  printLog(): string[] {
    return this.writes().flatMap((w) => logLine(w) ?? []);
  }

  /** Puts a tentative write in its (stamp, name) place, rolling back the ones after it. */
  insertTentative(w: Write): void {
    invariant(w.csn === null, () => `insertTentative of committed ${writeId(w.server, w.stamp)}`);
    this.assertNew(w);
    let pos = this.tentative.length;
    while (pos > 0 && compareTentative(w, this.tentative[pos - 1]!) < 0) pos -= 1;
    this.undoTo(pos);
    this.tentative.splice(pos, 0, w);
    this.byId.set(writeId(w.server, w.stamp), w);
    this.redoFrom(pos);
  }

  /** Appends a committed write (the next CSN): new here, or moved from the tentative part. */
  appendStable(w: Write): void {
    invariant(
      w.csn === this.csn + 1,
      () => `CSN ${w.csn} for ${writeId(w.server, w.stamp)} after CSN ${this.csn}`,
    );
    const id = writeId(w.server, w.stamp);
    const at = this.tentative.findIndex((t) => t.server === w.server && t.stamp === w.stamp);
    if (at < 0) this.assertNew(w);
    // The committed write goes before every tentative one: roll them all back, apply it, re-apply
    // the rest (a commit of the first tentative write changes no value, but stays simple).
    this.undoTo(0);
    if (at >= 0) this.tentative.splice(at, 1);
    apply(this.dbNow, w.op);
    this.stable.push(w);
    this.byId.set(id, w);
    this.redoFrom(0);
  }

  /** Commits a tentative write with the next CSN (the primary's decision, or its notification). */
  commit(server: NameKey, stamp: number, csn: number): Write {
    const w = this.byId.get(writeId(server, stamp));
    invariant(w !== undefined && w.csn === null, () => `commit of ${writeId(server, stamp)}`);
    const done: Write = { ...w, csn };
    this.appendStable(done);
    return done;
  }

  /** Drops the stable writes with CSN <= upTo, folding them into the base (DB, O, OSN). */
  truncate(upTo: number): void {
    invariant(upTo <= this.csn, () => `truncate to ${upTo} past CSN ${this.csn}`);
    const n = upTo - this.base.osn;
    if (n <= 0) return;
    const gone = this.stable.splice(0, n);
    for (const w of gone) {
      apply(this.base.db, w.op);
      this.base.o.advance(w.server, w.stamp);
      this.byId.delete(writeId(w.server, w.stamp));
    }
    this.base.osn = upTo;
  }

  /** Forgets everything and starts from base (a full transfer's receiver). */
  resetTo(base: LogBase): void {
    this.stable = [];
    this.tentative = [];
    this.undo = [];
    this.byId.clear();
    this.base = { db: new Map(base.db), o: base.o.clone(), osn: base.osn };
    this.dbNow = new Map(base.db);
  }

  /** The DB by replaying base + log from scratch: what db must always equal (tests, checks). */
  replay(): Map<string, string> {
    const db = new Map(this.base.db);
    for (const w of this.writes()) apply(db, w.op);
    return db;
  }

  private assertNew(w: Write): void {
    invariant(
      !this.byId.has(writeId(w.server, w.stamp)),
      () => `write ${writeId(w.server, w.stamp)} is already in the log`,
    );
  }

  private undoTo(pos: number): void {
    for (let i = this.tentative.length - 1; i >= pos; i -= 1) {
      unapply(this.dbNow, this.tentative[i]!.op, this.undo[i]);
    }
    this.undo.length = pos;
  }

  private redoFrom(pos: number): void {
    for (let i = pos; i < this.tentative.length; i += 1) {
      this.undo[i] = apply(this.dbNow, this.tentative[i]!.op);
    }
  }
}
