// The KvMachine's state as bytes: for its state hash (the replicated state) and for snapshots
// (the same, plus the watch history, framed with a magic, a version and a sha256).
//
// Snapshot: "YKVS", version byte (2; 1 is still read: no owners, sessions, locks or history),
// last seq + 1 (nat), the state, [version 2: the history], sha256 of all before.
// State: log time; keys in order (key, version, expiry, [v2: owning session, 0: none], value);
// clients least recently active first (id, floor, last active seq, results in req order);
// [v2: the coordination state (CoordState.write)].
import { createHash } from "node:crypto";
import { ByteReader, ByteWriter } from "./byte_codec.js";
import { MAX_KEY_BYTES, readResult, writeResult, type KvResult } from "./commands.js";
import { CoordState, type KeyRemover } from "./coord_state.js";
import { EventHistory, type HistoryLimits } from "./kv_events.js";
import { ClientTable, KvSnapshotError, readClients, refuse } from "./kv_tables.js";

/** What a key holds (the machine's KvValue). */
export interface StoredValue {
  value: Uint8Array;
  version: number;
  expiresAtMs: number;
}

/** The machine's tables, as the snapshot writes and reads them. */
export interface MachineTables {
  logNow: number;
  entries: Map<string, StoredValue>;
  clients: ClientTable;
  coord: CoordState;
  history: EventHistory;
}

const MAGIC = Uint8Array.from([0x59, 0x4b, 0x56, 0x53]); // "YKVS"
const SNAPSHOT_VERSION = 2;
const CHECKSUM_BYTES = 32;

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sizeHint(t: MachineTables): number {
  let n = 64 + 64 * t.clients.clients.size + 32 * t.coord.sessions.size;
  for (const [key, v] of t.entries) n += 36 + 3 * key.length + v.value.length;
  return n;
}

function writeState(w: ByteWriter, t: MachineTables): void {
  w.nat(t.logNow);
  const keys = [...t.entries.keys()].sort(compareStrings);
  w.u32(keys.length);
  for (const key of keys) {
    const v = t.entries.get(key) as StoredValue;
    w.str(key);
    w.nat(v.version);
    w.nat(v.expiresAtMs);
    w.nat(t.coord.owners.get(key) ?? 0);
    w.bytes(v.value);
  }
  w.u32(t.clients.clients.size);
  for (const [id, rec] of t.clients.clients) {
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
  t.coord.write(w);
}

/** 16 hex digits over the replicated state (not the history, which follows from the log). */
export function hashState(t: MachineTables): string {
  const w = new ByteWriter(sizeHint(t));
  writeState(w, t);
  return createHash("sha256").update(w.view()).digest("hex").slice(0, 16);
}

export function writeSnapshot(t: MachineTables, lastSeq: number): Uint8Array {
  const w = new ByteWriter(sizeHint(t));
  w.raw(MAGIC);
  w.u8(SNAPSHOT_VERSION);
  w.nat(lastSeq + 1);
  writeState(w, t);
  t.history.write(w);
  w.raw(createHash("sha256").update(w.view()).digest());
  return w.finish();
}

/** The tables in a snapshot taken at or before seq; throws KvSnapshotError for bytes that are
 * not such a snapshot. */
export function readSnapshot(
  snapshot: Uint8Array,
  seq: number,
  maxValueBytes: number,
  keys: KeyRemover,
  limits: HistoryLimits | undefined,
): MachineTables {
  const { r, version } = openSnapshot(snapshot);
  try {
    const taken = r.nat("seq") - 1;
    if (!Number.isSafeInteger(seq) || taken > seq)
      refuse(`taken at seq ${taken}, restored at ${seq}`);
    const t = readState(r, taken, version, maxValueBytes, keys, limits);
    r.done();
    return t;
  } catch (e) {
    if (e instanceof KvSnapshotError) throw e;
    throw new KvSnapshotError(`kv snapshot refused: ${(e as Error).message}`, { cause: e });
  }
}

function openSnapshot(snapshot: Uint8Array): { r: ByteReader; version: number } {
  const min = MAGIC.length + 1 + 8 + CHECKSUM_BYTES;
  if (!(snapshot instanceof Uint8Array) || snapshot.length < min) {
    throw new KvSnapshotError("kv snapshot refused: too short");
  }
  if (!MAGIC.every((b, i) => snapshot[i] === b)) {
    throw new KvSnapshotError("kv snapshot refused: not a kv snapshot");
  }
  const version = snapshot[MAGIC.length] as number;
  if (version !== 1 && version !== SNAPSHOT_VERSION) {
    throw new KvSnapshotError(`kv snapshot refused: format version ${version} is not supported`);
  }
  const end = snapshot.length - CHECKSUM_BYTES;
  const sum = createHash("sha256").update(snapshot.subarray(0, end)).digest();
  if (!sum.equals(snapshot.subarray(end))) {
    throw new KvSnapshotError("kv snapshot refused: checksum mismatch (damaged)");
  }
  const r = new ByteReader(snapshot.subarray(0, end));
  r.pos = MAGIC.length + 1;
  return { r, version };
}

function readState(
  r: ByteReader,
  taken: number,
  version: number,
  maxValueBytes: number,
  keys: KeyRemover,
  limits: HistoryLimits | undefined,
): MachineTables {
  const logNow = r.nat("log time");
  const count = r.u32("key count");
  if (count * 25 > r.left) refuse(`${count} keys cannot fit in ${r.left} bytes`);
  const entries = new Map<string, StoredValue>();
  const owned: [string, number][] = [];
  let previous: string | undefined;
  for (let i = 0; i < count; i++) {
    const key = r.str("key", 1, MAX_KEY_BYTES);
    if (previous !== undefined && previous >= key) refuse(`key ${i} out of order`);
    previous = key;
    const keyVersion = r.nat("version");
    if (keyVersion < 1 || keyVersion > taken + 1) refuse(`key ${i}: version ${keyVersion}`);
    const expiresAtMs = r.nat("expiry");
    const owner = version >= 2 ? r.nat("owner") : 0;
    if (owner > 0) owned.push([key, owner]);
    entries.set(key, { version: keyVersion, expiresAtMs, value: r.bytes("value", maxValueBytes) });
  }
  const clients = readClients(r, taken);
  const coord = new CoordState(keys);
  const history = new EventHistory(limits);
  if (version >= 2) {
    coord.read(r, taken);
    for (const [key, session] of owned) coord.restoreOwner(key, session);
    history.read(r, taken, maxValueBytes);
  }
  return { logNow, entries, clients, coord, history };
}

// readResult is re-exported for the snapshot tests that build damaged client tables.
export { readResult };
