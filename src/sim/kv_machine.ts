// The simulator's replicated state: a key-value store with versions, driven by binary commands.
// Ranks that applied the same seqs must agree on stateHash(); apply refuses a seq at or below the
// last one applied, because a command applied twice or out of order is the bug the simulator hunts.
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { StateMachine } from "../ports.js";

/** A command: versions are revisions (see KvMachine), and 0 stands for "no such key", so a cas
 * expecting 0 creates a key only if it is absent. */
export type KvCommand =
  | { op: "put"; key: string; value: Uint8Array }
  | { op: "delete"; key: string }
  | { op: "cas"; key: string; expectedVersion: number; value: Uint8Array };

/** ok: put always; delete if the key existed; cas if the version matched. version: the key's
 * version after the command (0: absent), so a failed cas tells what to expect next time. error:
 * only for a command that could not be decoded (ok false, version 0). */
export interface KvResult {
  ok: boolean;
  version: number;
  error?: string;
}

/** The key space of randomKvCommand: small, so that commands collide on keys and cas both wins
 * and loses. */
export const KV_KEYS: readonly string[] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
/** The longest value randomKvCommand makes. */
export const KV_MAX_RANDOM_VALUE = 64;

// Command layout: op (u8), key length (u8), key (UTF-8); cas: expected version (u64); put and
// cas: the value, all remaining bytes. The op byte makes every command non-empty (an empty one
// is the library's no-op and would never be applied).
const OP_PUT = 1;
const OP_DELETE = 2;
const OP_CAS = 3;
const MAX_KEY_BYTES = 255;
// Snapshot layout: MAGIC, last seq (i64), the state (see encodeState), sha256 of all before it.
const MAGIC = Uint8Array.from([0x59, 0x4b, 0x56, 0x31]); // "YKV1"
const HASH_BYTES = 32;

const encoder = new TextEncoder();
// fatal: a key that is not UTF-8 could not be told apart from another after decoding.
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The bytes of a command; throws for a key over 255 bytes or a version that is not a safe
 * non-negative integer (those could not be encoded). */
export function encodeKvCommand(command: KvCommand): Uint8Array {
  const key = encoder.encode(command.key);
  if (key.length > MAX_KEY_BYTES) throw new Error(`kv key over ${MAX_KEY_BYTES} bytes`);
  const value = command.op === "delete" ? new Uint8Array(0) : command.value;
  const versionBytes = command.op === "cas" ? 8 : 0;
  const out = new Uint8Array(2 + key.length + versionBytes + value.length);
  const view = new DataView(out.buffer);
  out[0] = command.op === "put" ? OP_PUT : command.op === "delete" ? OP_DELETE : OP_CAS;
  out[1] = key.length;
  out.set(key, 2);
  if (command.op === "cas") {
    const v = command.expectedVersion;
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`bad expected version: ${v}`);
    view.setBigUint64(2 + key.length, BigInt(v));
  }
  out.set(value, 2 + key.length + versionBytes);
  return out;
}

/** The command in bytes, or why they are not one (never throws). A value is a view into bytes. */
export function decodeKvCommand(bytes: Uint8Array): KvCommand | { error: string } {
  try {
    const r = new Reader(bytes);
    const op = r.u8("op");
    if (op !== OP_PUT && op !== OP_DELETE && op !== OP_CAS) {
      return { error: `bad kv command: unknown op ${op}` };
    }
    const key = decodeKey(r.bytes(r.u8("key length"), "key"));
    if (op === OP_DELETE) {
      r.end();
      return { op: "delete", key };
    }
    if (op === OP_PUT) return { op: "put", key, value: r.rest() };
    return { op: "cas", key, expectedVersion: r.u64("version"), value: r.rest() };
  } catch (e) {
    return { error: `bad kv command: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** A random valid command, drawn from rng only (same numbers, same commands): half puts, a fifth
 * deletes, the rest cas, over KV_KEYS, with values of 0..KV_MAX_RANDOM_VALUE random bytes. A cas
 * cannot see the state, so half of them expect the key to be absent (they win after a delete)
 * and the others guess a small version (they win now and then early on and lose afterwards). */
export function randomKvCommand(rng: { next(): number }): Uint8Array {
  const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
  const key = KV_KEYS[int(0, KV_KEYS.length - 1)] ?? "k0";
  const kind = rng.next();
  if (kind >= 0.5 && kind < 0.7) return encodeKvCommand({ op: "delete", key });
  const value = new Uint8Array(int(0, KV_MAX_RANDOM_VALUE));
  for (let i = 0; i < value.length; i++) value[i] = int(0, 255);
  if (kind < 0.5) return encodeKvCommand({ op: "put", key, value });
  const expectedVersion = rng.next() < 0.5 ? 0 : int(1, 64);
  return encodeKvCommand({ op: "cas", key, expectedVersion, value });
}

interface Entry {
  value: Uint8Array;
  version: number;
}

export class KvMachine implements StateMachine {
  private entries = new Map<string, Entry>();
  private revisionCount = 0;
  private appliedSeq = -1;

  /** The seq of the last command applied, or the seq of the snapshot restored if none was
   * applied since (-1: neither; seqs start at 0). Not part of stateHash. */
  get lastSeq(): number {
    return this.appliedSeq;
  }

  /** How many commands were applied (bad ones too); a key's version is the revision that last
   * wrote it, so versions never repeat, even across a delete. */
  get revision(): number {
    return this.revisionCount;
  }

  /** The key's value and version (undefined: absent). The value must not be modified. */
  read(key: string): Readonly<Entry> | undefined {
    return this.entries.get(key);
  }

  /** Throws only for a seq at or below the last one: that is the invariant the simulator checks.
   * Seqs may skip (no-ops are not applied). */
  apply(seq: number, command: Uint8Array): KvResult {
    if (!Number.isSafeInteger(seq) || seq <= this.appliedSeq) {
      throw new Error(
        `kv machine: seq ${seq} applied after seq ${this.appliedSeq} (applied twice or out of order)`,
      );
    }
    this.appliedSeq = seq;
    const revision = ++this.revisionCount;
    const cmd = decodeKvCommand(command);
    if ("error" in cmd) return { ok: false, version: 0, error: cmd.error };
    const current = this.entries.get(cmd.key)?.version ?? 0;
    if (cmd.op === "delete") return { ok: this.entries.delete(cmd.key), version: 0 };
    if (cmd.op === "cas" && cmd.expectedVersion !== current) return { ok: false, version: current };
    // A copy: the command's buffer belongs to the log, not to the state.
    this.entries.set(cmd.key, { value: cmd.value.slice(), version: revision });
    return { ok: true, version: revision };
  }

  /** sha256 (hex) of the canonical encoding of the state: keys, values, versions and revision,
   * but not lastSeq, so ranks can be compared whenever they applied the same seqs. */
  stateHash(): string {
    return createHash("sha256").update(this.encodeState()).digest("hex");
  }

  snapshot(): Uint8Array {
    const state = this.encodeState();
    const out = new Uint8Array(MAGIC.length + 8 + state.length + HASH_BYTES);
    out.set(MAGIC, 0);
    new DataView(out.buffer).setBigInt64(MAGIC.length, BigInt(this.appliedSeq));
    out.set(state, MAGIC.length + 8);
    const end = out.length - HASH_BYTES;
    out.set(createHash("sha256").update(out.subarray(0, end)).digest(), end);
    return out;
  }

  /** Replaces the state by the snapshot's and sets lastSeq to seq. Throws (state unchanged) for
   * bytes that are not a snapshot in canonical form, damaged ones, or one taken after seq. */
  restore(snapshot: Uint8Array, seq: number): void {
    if (snapshot.length < MAGIC.length + 8 + HASH_BYTES) throw refused("too short");
    const end = snapshot.length - HASH_BYTES;
    const sum = createHash("sha256").update(snapshot.subarray(0, end)).digest();
    if (!sum.equals(snapshot.subarray(end))) throw refused("checksum mismatch (damaged)");
    if (!MAGIC.every((b, i) => snapshot[i] === b)) throw refused("not a kv snapshot");
    let taken: number;
    let decoded: { revision: number; entries: Map<string, Entry> };
    try {
      const r = new Reader(snapshot.subarray(MAGIC.length, end));
      taken = r.i64("seq");
      decoded = decodeState(r);
    } catch (e) {
      throw refused(e instanceof Error ? e.message : String(e), e);
    }
    // No-ops (never applied) may follow the last command applied, so the snapshot's own seq may
    // be below the one it is restored at; above it, it holds commands the log does not.
    if (!Number.isSafeInteger(seq) || taken > seq) {
      throw refused(`taken at seq ${taken}, restored at seq ${seq}`);
    }
    this.entries = decoded.entries;
    this.revisionCount = decoded.revision;
    this.appliedSeq = seq;
  }

  /** revision (u64), entry count (u32), then per entry in byte order of the keys: key length
   * (u8), key, version (u64), value length (u32), value. Lengths make it unambiguous. */
  private encodeState(): Uint8Array {
    const keyed = [...this.entries].map(([key, e]) => ({ key: encoder.encode(key), ...e }));
    keyed.sort((a, b) => Buffer.compare(a.key, b.key));
    const size = keyed.reduce((n, e) => n + 1 + e.key.length + 8 + 4 + e.value.length, 12);
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    view.setBigUint64(0, BigInt(this.revisionCount));
    view.setUint32(8, keyed.length);
    let at = 12;
    for (const e of keyed) {
      out[at] = e.key.length;
      out.set(e.key, at + 1);
      at += 1 + e.key.length;
      view.setBigUint64(at, BigInt(e.version));
      view.setUint32(at + 8, e.value.length);
      out.set(e.value, at + 12);
      at += 12 + e.value.length;
    }
    return out;
  }
}

/** The inverse of encodeState, refusing anything encodeState could not have written. */
function decodeState(r: Reader): { revision: number; entries: Map<string, Entry> } {
  const revision = r.u64("revision");
  const count = r.u32("entry count");
  const entries = new Map<string, Entry>();
  let previous: Uint8Array | undefined;
  for (let i = 0; i < count; i++) {
    const keyBytes = r.bytes(r.u8("key length"), "key");
    if (previous && Buffer.compare(previous, keyBytes) >= 0) {
      throw new Error(`entry ${i}: keys not in strictly increasing order`);
    }
    previous = keyBytes;
    const version = r.u64("version");
    if (version < 1 || version > revision) {
      throw new Error(`entry ${i}: version ${version} outside 1..${revision}`);
    }
    const value = r.bytes(r.u32("value length"), "value");
    entries.set(decodeKey(keyBytes), { value, version });
  }
  r.end();
  return { revision, entries };
}

function decodeKey(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new Error("key is not UTF-8", { cause: e });
  }
}

function refused(why: string, cause?: unknown): Error {
  return new Error(`kv snapshot refused: ${why}`, { cause });
}

/** Reads big-endian fields, throwing rather than reading past the end. */
class Reader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private take(n: number, what: string): number {
    if (n > this.buf.length - this.at) {
      throw new Error(
        `truncated: ${what} needs ${n} bytes at byte ${this.at} of ${this.buf.length}`,
      );
    }
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(what: string): number {
    return this.view.getUint8(this.take(1, what));
  }

  u32(what: string): number {
    return this.view.getUint32(this.take(4, what));
  }

  u64(what: string): number {
    const v = this.view.getBigUint64(this.take(8, what));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${v} is over 2^53`);
    return Number(v);
  }

  i64(what: string): number {
    const v = this.view.getBigInt64(this.take(8, what));
    if (v < -1n || v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new Error(`${what} ${v} out of range`);
    return Number(v);
  }

  /** A copy of the next n bytes. */
  bytes(n: number, what: string): Uint8Array {
    const at = this.take(n, what);
    return this.buf.slice(at, at + n);
  }

  /** A view of everything left. */
  rest(): Uint8Array {
    const at = this.take(this.buf.length - this.at, "rest");
    return this.buf.subarray(at);
  }

  end(): void {
    if (this.at !== this.buf.length) {
      throw new Error(`${this.buf.length - this.at} bytes left over at byte ${this.at}`);
    }
  }
}
