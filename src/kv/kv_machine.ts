// The yasp-kv replicated state: keys with values, versions and expiry, plus the exactly-once
// client table. Every rank applies the same commands at the same seqs, so everything here is a
// function of (seq, command bytes) only: time is the log's (the max atMs applied), never a clock.
import { createHash } from "node:crypto";
import type { StateMachine } from "../ports.js";
import {
  ByteReader,
  ByteWriter,
  decodeCommand,
  HARD_MAX_VALUE_BYTES,
  MAX_KEY_BYTES,
  writeResult,
  type KvCommand,
  type KvResult,
} from "./commands.js";
import { ClientTable, ExpiryHeap, KvSnapshotError, readClients, refuse } from "./kv_tables.js";

export { KvSnapshotError, MAX_CLIENTS, MAX_RESULTS_PER_CLIENT } from "./kv_tables.js";

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
const NOT_FOUND: KvResult = { kind: "error", code: "not_found" };
const EXPIRED: KvResult = { kind: "expired" };

export interface KvMachineOptions {
  /** The largest value a command may carry; must be the same on every rank (default 8 MiB, the
   * hard cap: the servers refuse bigger values before they reach the log). */
  maxValueBytes?: number;
}

export class KvMachine implements StateMachine {
  private entries = new Map<string, KvValue>();
  private expiries = new ExpiryHeap();
  private clients = new ClientTable();
  private logNow = 0;
  private appliedSeq = -1;
  /** Keys in order for range(); dropped whenever a key comes or goes (not on overwrites). */
  private sortedKeys: string[] | null = null;
  private readonly maxValueBytes: number;

  constructor(opts: KvMachineOptions = {}) {
    this.maxValueBytes = Math.min(opts.maxValueBytes ?? HARD_MAX_VALUE_BYTES, HARD_MAX_VALUE_BYTES);
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

  /** Applies the command at seq (revision seq + 1). A command that cannot be decoded answers
   * bad_command and changes nothing; only a seq at or below the last one throws. */
  apply(seq: number, command: Uint8Array): KvResult {
    if (!Number.isSafeInteger(seq) || seq <= this.appliedSeq) {
      throw new KvMachineError(`kv machine: seq ${seq} applied after seq ${this.appliedSeq}`);
    }
    this.appliedSeq = seq;
    const cmd = decodeCommand(command, this.maxValueBytes);
    if ("error" in cmd) return BAD_COMMAND;
    this.advanceLogTime(cmd.atMs);
    if (cmd.op === "expire") return EXPIRED;
    const ref = cmd.client;
    const seen = ref && this.clients.check(ref, seq);
    if (seen) return seen; // a retry: the first answer, not a second application
    const result = this.execute(cmd, seq + 1);
    if (ref) this.clients.remember(ref, seq, result);
    return result;
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
      if (this.entries.get(top.key)?.expiresAtMs === top.at) this.removeKey(top.key);
    }
  }

  private execute(cmd: Exclude<KvCommand, { op: "expire" }>, revision: number): KvResult {
    const current = this.entries.get(cmd.key);
    if (cmd.op === "delete") {
      if (!current) return NOT_FOUND;
      this.removeKey(cmd.key);
      return { kind: "deleted", version: revision };
    }
    if (cmd.op === "cas") {
      if (!current) return NOT_FOUND;
      if (current.version !== cmd.version) {
        return { kind: "error", code: "version_mismatch", version: current.version };
      }
    }
    const expiresAtMs = cmd.ttlMs > 0 ? Math.min(cmd.atMs + cmd.ttlMs, Number.MAX_SAFE_INTEGER) : 0;
    this.setKey(cmd.key, { value: cmd.value, version: revision, expiresAtMs });
    return { kind: "written", version: revision };
  }

  private setKey(key: string, v: KvValue): void {
    if (!this.entries.has(key)) this.sortedKeys = null;
    this.entries.set(key, v);
    if (v.expiresAtMs > 0) this.expiries.push(v.expiresAtMs, key);
    // Overwritten expiries pile up in the heap; past twice the keys, start it afresh.
    if (this.expiries.items.length > 2 * this.entries.size + 1024) this.rebuildExpiries();
  }

  private removeKey(key: string): void {
    if (this.entries.delete(key)) this.sortedKeys = null;
  }

  private rebuildExpiries(): void {
    this.expiries.items = [];
    for (const [key, v] of this.entries)
      if (v.expiresAtMs > 0) this.expiries.push(v.expiresAtMs, key);
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

  /** 16 hex digits over keys, values, versions, expiries, the client table and log time; the same
   * for the same state however it was reached (the encoding is in key order). */
  stateHash(): string {
    const w = new ByteWriter(this.sizeHint());
    this.writeState(w);
    return createHash("sha256").update(w.view()).digest("hex").slice(0, 16);
  }

  snapshot(): Uint8Array {
    const w = new ByteWriter(this.sizeHint());
    w.raw(MAGIC);
    w.u8(SNAPSHOT_VERSION);
    w.nat(this.appliedSeq + 1);
    this.writeState(w);
    w.raw(createHash("sha256").update(w.view()).digest());
    return w.finish();
  }

  /** Replaces the state by the snapshot's (taken at or before seq); throws KvSnapshotError and
   * changes nothing for bytes that are not such a snapshot. */
  restore(snapshot: Uint8Array, seq: number): void {
    const r = openSnapshot(snapshot);
    let state: DecodedState;
    try {
      state = readState(r, seq, this.maxValueBytes);
    } catch (e) {
      if (e instanceof KvSnapshotError) throw e;
      throw new KvSnapshotError(`kv snapshot refused: ${(e as Error).message}`, { cause: e });
    }
    this.entries = state.entries;
    this.clients = state.clients;
    this.logNow = state.logNow;
    this.appliedSeq = seq;
    this.sortedKeys = null;
    this.rebuildExpiries();
  }

  private sizeHint(): number {
    let n = 64 + 64 * this.clients.clients.size;
    for (const [key, v] of this.entries) n += 28 + 3 * key.length + v.value.length;
    return n;
  }

  /** log time, keys in order (key, version, expiry, value), then clients least recently active
   * first (id, floor, last active seq, results in req order). */
  private writeState(w: ByteWriter): void {
    w.nat(this.logNow);
    const keys = [...this.entries.keys()].sort(compareStrings);
    w.u32(keys.length);
    for (const key of keys) {
      const v = this.entries.get(key) as KvValue;
      w.str(key);
      w.nat(v.version);
      w.nat(v.expiresAtMs);
      w.bytes(v.value);
    }
    w.u32(this.clients.clients.size);
    for (const [id, rec] of this.clients.clients) {
      w.str(id);
      w.nat(rec.floor);
      w.nat(rec.lastActiveSeq);
      const reqs = [...rec.results.keys()].sort((a, b) => a - b);
      w.u32(reqs.length);
      for (const req of reqs) {
        w.nat(req);
        writeResult(w, rec.results.get(req) as KvResult);
      }
    }
  }
}

// Snapshot: MAGIC, version byte, last seq + 1 (nat), the state (writeState), sha256 of all before.
const MAGIC = Uint8Array.from([0x59, 0x4b, 0x56, 0x53]); // "YKVS"
const SNAPSHOT_VERSION = 1;
const CHECKSUM_BYTES = 32;

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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

/** A reader positioned after the magic and version, over the bytes the checksum covers. */
function openSnapshot(snapshot: Uint8Array): ByteReader {
  const min = MAGIC.length + 1 + 8 + CHECKSUM_BYTES;
  if (!(snapshot instanceof Uint8Array) || snapshot.length < min) {
    throw new KvSnapshotError("kv snapshot refused: too short");
  }
  if (!MAGIC.every((b, i) => snapshot[i] === b)) {
    throw new KvSnapshotError("kv snapshot refused: not a kv snapshot");
  }
  const version = snapshot[MAGIC.length];
  if (version !== SNAPSHOT_VERSION) {
    throw new KvSnapshotError(`kv snapshot refused: format version ${version} is not supported`);
  }
  const end = snapshot.length - CHECKSUM_BYTES;
  const sum = createHash("sha256").update(snapshot.subarray(0, end)).digest();
  if (!sum.equals(snapshot.subarray(end))) {
    throw new KvSnapshotError("kv snapshot refused: checksum mismatch (damaged)");
  }
  const r = new ByteReader(snapshot.subarray(0, end));
  r.pos = MAGIC.length + 1;
  return r;
}

interface DecodedState {
  entries: Map<string, KvValue>;
  clients: ClientTable;
  logNow: number;
}

/** The inverse of writeState, refusing anything it could not have written. */
function readState(r: ByteReader, seq: number, maxValueBytes: number): DecodedState {
  const taken = r.nat("seq") - 1;
  if (!Number.isSafeInteger(seq) || taken > seq)
    refuse(`taken at seq ${taken}, restored at ${seq}`);
  const logNow = r.nat("log time");
  const count = r.u32("key count");
  if (count * 25 > r.left) refuse(`${count} keys cannot fit in ${r.left} bytes`);
  const entries = new Map<string, KvValue>();
  let previous: string | undefined;
  for (let i = 0; i < count; i++) {
    const key = r.str("key", 1, MAX_KEY_BYTES);
    if (previous !== undefined && previous >= key) refuse(`key ${i} out of order`);
    previous = key;
    const version = r.nat("version");
    if (version < 1 || version > taken + 1) refuse(`key ${i}: version ${version}`);
    const expiresAtMs = r.nat("expiry");
    entries.set(key, { version, expiresAtMs, value: r.bytes("value", maxValueBytes) });
  }
  const clients = readClients(r, taken);
  r.done();
  return { entries, clients, logNow };
}
