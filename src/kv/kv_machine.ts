// The yasp-kv replicated state: keys with values, versions and expiry, plus the exactly-once
// client table. Every rank applies the same commands at the same seqs, so everything here is a
// function of (seq, command bytes) only: time is the log's (the max atMs applied), never a clock.
import type { StateMachine } from "../ports.js";
import { decodeCommand, HARD_MAX_VALUE_BYTES, type KvCommand, type KvResult } from "./commands.js";
import { CoordState, type CoordNotice, type MasterRecord } from "./coord_state.js";
import { EventHistory, type EventsPage, type HistoryLimits, type KvEvent } from "./kv_events.js";
import { ClientTable, ExpiryHeap } from "./kv_tables.js";
import {
  compareStrings,
  hashState,
  readSnapshot,
  writeSnapshot,
  type MachineTables,
} from "./kv_snapshot.js";

export { KvSnapshotError, MAX_CLIENTS, MAX_RESULTS_PER_CLIENT } from "./kv_tables.js";
export type { CoordNotice, MasterRecord } from "./coord_state.js";
export type { EventsPage, KvEvent } from "./kv_events.js";

/** What the service hears during apply: the coordination notices, and the events of each
 * revision that changed keys (all of them in one notice). */
export type MachineNotice = CoordNotice | { kind: "events"; revision: number; events: KvEvent[] };

/** What a read sees of a key. value must not be modified (it is the state's). */
export interface KvValue {
  value: Uint8Array;
  /** The revision of the key's last write. */
  version: number;
  /** When the key expires in log time (ms since the epoch); 0: never. */
  expiresAtMs: number;
}
export type KvEntry = KvValue & { key: string };
/** Keys in [start, end) that begin with prefix (each bound optional), at most limit of them. */
export interface RangeQuery {
  prefix?: string;
  start?: string;
  end?: string;
  limit: number;
}

/** A seq applied out of order: a bug in the caller, not a bad command (those never throw). */
export class KvMachineError extends Error {
  override name = "KvMachineError";
}

const BAD_COMMAND: KvResult = { kind: "error", code: "bad_command" };
const NO_SESSION: KvResult = { kind: "error", code: "no_session" };
const NOT_FOUND: KvResult = { kind: "error", code: "not_found" };
const EXPIRED: KvResult = { kind: "expired" };

export interface KvMachineOptions {
  /** The largest value a command may carry; must be the same on every rank (default 8 MiB, the
   * hard cap: the servers refuse bigger values before they reach the log). */
  maxValueBytes?: number;
  /** How much change history watches can resume from (the same on every rank). */
  history?: HistoryLimits;
}

export class KvMachine implements StateMachine {
  private entries = new Map<string, KvValue>();
  private expiries = new ExpiryHeap();
  private clients = new ClientTable();
  private coord = new CoordState(this);
  private history: EventHistory;
  private logNow = 0;
  private appliedSeq = -1;
  /** Keys in order for range(); dropped whenever a key comes or goes (not on overwrites). */
  private sortedKeys: string[] | null = null;
  private readonly maxValueBytes: number;
  private readonly historyLimits: HistoryLimits | undefined;
  /** The events of the command being applied. */
  private pending: KvEvent[] = [];
  private revision = 0;
  /** Called during apply with what the command did (after the state changed; set by the
   * service). It must not throw and must not apply commands. */
  onNotice: ((n: MachineNotice) => void) | null = null;

  constructor(opts: KvMachineOptions = {}) {
    this.maxValueBytes = Math.min(opts.maxValueBytes ?? HARD_MAX_VALUE_BYTES, HARD_MAX_VALUE_BYTES);
    this.historyLimits = opts.history;
    this.history = new EventHistory(opts.history);
  }

  /** Number of keys (some may be expired by a reader's clock and not yet purged by the log). */
  get size(): number {
    return this.entries.size;
  }

  /** The log's time: the largest atMs applied (0: none). */
  get logNowMs(): number {
    return this.logNow;
  }

  /** The last seq applied, or the seq restored at (-1: neither). */
  get lastSeq(): number {
    return this.appliedSeq;
  }

  /** The revision of the last command applied (0: none). */
  get currentRevision(): number {
    return this.appliedSeq + 1;
  }

  /** The master the log knows last (its epoch fences the session expiries it sends). */
  get master(): MasterRecord | null {
    return this.coord.master;
  }

  /** Applies the command at seq (revision seq + 1). A command that cannot be decoded answers
   * bad_command and changes nothing; only a seq at or below the last one throws. */
  apply(seq: number, command: Uint8Array): KvResult {
    if (!Number.isSafeInteger(seq) || seq <= this.appliedSeq) {
      throw new KvMachineError(`kv machine: seq ${seq} applied after seq ${this.appliedSeq}`);
    }
    this.appliedSeq = seq;
    this.revision = seq + 1;
    const cmd = decodeCommand(command, this.maxValueBytes);
    if ("error" in cmd) return BAD_COMMAND;
    this.advanceLogTime(cmd.atMs);
    const result = this.applyDecoded(cmd);
    this.publish();
    return result;
  }

  private applyDecoded(cmd: KvCommand): KvResult {
    if (cmd.op === "expire") return EXPIRED;
    const ref = "client" in cmd ? cmd.client : undefined;
    const seen = ref && this.clients.check(ref, this.appliedSeq);
    if (seen) return seen; // a retry: the first answer, not a second application
    const result =
      cmd.op === "put" || cmd.op === "cas" || cmd.op === "delete"
        ? this.execute(cmd, this.revision)
        : this.coord.apply(cmd, this.revision);
    if (ref) this.clients.remember(ref, this.appliedSeq, result);
    return result;
  }

  /** Hands this revision's events to the history and the listener, then the coord notices. */
  private publish(): void {
    const events = this.pending;
    const notices = this.coord.notices;
    if (events.length === 0 && notices.length === 0) return;
    this.pending = [];
    this.coord.notices = [];
    if (events.length > 0) this.history.append(events);
    const listener = this.onNotice;
    if (!listener) return;
    if (events.length > 0) listener({ kind: "events", revision: this.revision, events });
    for (const n of notices) listener(n);
  }

  /** Log time moves to atMs if later, and every key that expired by then goes (at this log
   * position on every rank, whatever their clocks say). */
  private advanceLogTime(atMs: number): void {
    if (atMs > this.logNow) this.logNow = atMs;
    for (
      let top = this.expiries.items[0];
      top && top.at <= this.logNow;
      top = this.expiries.items[0]
    ) {
      this.expiries.pop();
      if (this.entries.get(top.key)?.expiresAtMs === top.at) this.removeKey(top.key, "expire");
    }
  }

  private execute(
    cmd: Extract<KvCommand, { op: "put" | "cas" | "delete" }>,
    revision: number,
  ): KvResult {
    if (cmd.ifHolds && !this.coord.fenceHolds(cmd.ifHolds)) {
      const holder = this.coord.holderToken(cmd.ifHolds.lock);
      return holder === undefined
        ? { kind: "error", code: "fence_failed" }
        : { kind: "error", code: "fence_failed", version: holder };
    }
    const current = this.entries.get(cmd.key);
    if (cmd.op === "delete") {
      if (!current) return NOT_FOUND;
      this.removeKey(cmd.key, "delete");
      return { kind: "deleted", version: revision };
    }
    if (cmd.op === "cas") {
      if (!current) return NOT_FOUND;
      if (current.version !== cmd.version) {
        return { kind: "error", code: "version_mismatch", version: current.version };
      }
    }
    if (cmd.session !== undefined && !this.coord.sessions.has(cmd.session)) return NO_SESSION;
    const expiresAtMs = cmd.ttlMs > 0 ? Math.min(cmd.atMs + cmd.ttlMs, Number.MAX_SAFE_INTEGER) : 0;
    this.setKey(cmd.key, { value: cmd.value, version: revision, expiresAtMs });
    this.coord.keyWritten(cmd.key, cmd.session);
    return { kind: "written", version: revision };
  }

  private setKey(key: string, v: KvValue): void {
    const previous = this.entries.get(key);
    if (!previous) this.sortedKeys = null;
    this.entries.set(key, v);
    this.pending.push(
      previous
        ? { revision: this.revision, kind: "put", key, value: v.value, prevValue: previous.value }
        : { revision: this.revision, kind: "put", key, value: v.value },
    );
    if (v.expiresAtMs > 0) this.expiries.push(v.expiresAtMs, key);
    // Overwritten expiries pile up in the heap; past twice the keys, start it afresh.
    if (this.expiries.items.length > 2 * this.entries.size + 1024) this.rebuildExpiries();
  }

  private removeKey(key: string, kind: "delete" | "expire"): void {
    const previous = this.entries.get(key);
    if (!previous) return;
    this.entries.delete(key);
    this.sortedKeys = null;
    this.coord.keyRemoved(key);
    this.pending.push({ revision: this.revision, kind, key, prevValue: previous.value });
  }

  /** A session ended: its keys go with it (CoordState calls this; a delete event each). */
  removeOwnedKey(key: string): void {
    this.removeKey(key, "delete");
  }

  private rebuildExpiries(): void {
    this.expiries.items = [];
    for (const [key, v] of this.entries)
      if (v.expiresAtMs > 0) this.expiries.push(v.expiresAtMs, key);
  }

  /** Events from revision `from` on for keys that match, at most about maxEvents (whole
   * revisions), or the oldest revision still kept when `from` is older. */
  eventsSince(from: number, match: (key: string) => boolean, maxEvents: number): EventsPage {
    return this.history.since(from, match, maxEvents, this.currentRevision);
  }

  /** The oldest revision a watch may start from. */
  get oldestRevision(): number {
    return this.history.oldestRevision;
  }

  /** A session's TTL, or undefined when it is not open. */
  session(id: number): { ttlMs: number } | undefined {
    const s = this.coord.sessions.get(id);
    return s && { ttlMs: s.ttlMs };
  }

  /** Open sessions, oldest first. */
  sessionIds(): number[] {
    return [...this.coord.sessions.keys()];
  }

  /** A lock's holder and how many wait for it (undefined: free and nobody waits). */
  lock(
    name: string,
  ): { holder: { session: number; token: number } | null; waiting: number } | undefined {
    const l = this.coord.locks.get(name);
    return l && { holder: l.holder && { ...l.holder }, waiting: l.queue.length };
  }

  /** When the next key expires (log time), or undefined: the server submits an expire then. */
  earliestExpiryMs(): number | undefined {
    for (let top = this.expiries.items[0]; top; top = this.expiries.items[0]) {
      if (this.entries.get(top.key)?.expiresAtMs === top.at) return top.at;
      this.expiries.pop(); // stale: the key was overwritten or deleted since
    }
    return undefined;
  }

  private visible(v: KvValue | undefined, nowMs: number): v is KvValue {
    return v !== undefined && (v.expiresAtMs === 0 || v.expiresAtMs > Math.max(nowMs, this.logNow));
  }

  /** The key as a reader whose clock says nowMs sees it (expired: undefined). */
  read(key: string, nowMs: number): KvValue | undefined {
    const v = this.entries.get(key);
    return this.visible(v, nowMs) ? v : undefined;
  }

  /** Live keys matching the query, in the order of JS strings (UTF-16 code units, which differs
   * from UTF-8 byte order only around surrogate pairs), at most limit (ask for one more to learn
   * whether there are more). */
  range(q: RangeQuery, nowMs: number): KvEntry[] {
    const keys = (this.sortedKeys ??= [...this.entries.keys()].sort(compareStrings));
    const prefix = q.prefix ?? "";
    const from = q.start !== undefined && q.start > prefix ? q.start : prefix;
    const limit = Math.max(0, Math.floor(q.limit));
    const out: KvEntry[] = [];
    for (let i = lowerBound(keys, from); i < keys.length && out.length < limit; i++) {
      const key = keys[i] as string;
      if (!key.startsWith(prefix) || (q.end !== undefined && key >= q.end)) break;
      const v = this.entries.get(key);
      if (this.visible(v, nowMs)) out.push({ key, ...v });
    }
    return out;
  }

  /** 16 hex digits over keys, values, versions, expiries, the client table, the sessions, locks
   * and log time; the same for the same state however it was reached (written in key order). */
  stateHash(): string {
    return hashState(this.tables());
  }

  snapshot(): Uint8Array {
    return writeSnapshot(this.tables(), this.appliedSeq);
  }

  private tables(): MachineTables {
    const { logNow, entries, clients, coord, history } = this;
    return { logNow, entries, clients, coord, history };
  }

  /** Replaces the state by the snapshot's (taken at or before seq); throws KvSnapshotError and
   * changes nothing for bytes that are not such a snapshot. */
  restore(snapshot: Uint8Array, seq: number): void {
    const t = readSnapshot(snapshot, seq, this.maxValueBytes, this, this.historyLimits);
    this.entries = t.entries;
    this.clients = t.clients;
    this.coord = t.coord;
    this.history = t.history;
    this.logNow = t.logNow;
    this.appliedSeq = seq;
    this.sortedKeys = null;
    this.rebuildExpiries();
  }
}

function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
