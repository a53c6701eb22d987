// The `yasp` command's state machine: a running 64-bit hash chain over (seq, command) of every
// command applied, and how many there were. It keeps nothing else, so its snapshot is a few dozen
// bytes whatever the load, yet two ranks that applied different commands, or the same ones at
// different seqs or in another order, end with different digests: comparing stateHash() at one
// appliedSeq is a check that the replicas agree. No-ops (empty commands) are never applied.
import { crc32 } from "node:zlib";
import type { StateMachine } from "../ports.js";

// Snapshot layout (big-endian): magic "YDG2" | i64 last seq applied (-1: none) | u64 count |
// 8-byte digest | u32 crc32 of all before it. Fixed size: anything else is refused.
const MAGIC = Uint8Array.from([0x59, 0x44, 0x47, 0x32]);
const DIGEST_BYTES = 8;
export const DIGEST_SNAPSHOT_BYTES = MAGIC.length + 8 + 8 + DIGEST_BYTES + 4;

/** A snapshot that is not one this machine took (wrong size, magic or checksum, or impossible). */
export class DigestSnapshotError extends Error {
  override name = "DigestSnapshotError";
}

export class DigestMachine implements StateMachine {
  /** The chain's two 32-bit lanes. */
  private hi = 0;
  private lo = 0;
  private applied = 0;
  private last = -1;

  /** Commands applied since the beginning of the log (not only in this process). */
  get count(): number {
    return this.applied;
  }

  /** The seq of the last command applied (-1: none). Not part of stateHash. */
  get lastSeq(): number {
    return this.last;
  }

  /** The chain: each lane folds in the seq, the length and every byte of the command with its own
   * multiplier (a 64-bit multiply-xorshift chain, not a cryptographic hash: it tells replicas
   * apart, it does not stand up to an adversary). A SHA-256 per command cost a tenth of a rank's
   * CPU at 24k commands/s (profile: createHash and digest per apply). The length keeps (seq,
   * command) pairs apart. Returns how many commands are applied now. */
  apply(seq: number, command: Uint8Array): number {
    // The rank applies in seq order; a seq again or going back is a bug upstream, not input.
    if (!Number.isSafeInteger(seq) || seq <= this.last)
      throw new Error(`digest machine: seq ${seq} applied after seq ${this.last}`);
    let hi = mix(mix(this.hi, Math.floor(seq / 0x100000000), A), seq >>> 0, A);
    let lo = mix(mix(this.lo, seq >>> 0, B), command.length, B);
    for (let i = 0; i < command.length; i++) {
      const byte = command[i] as number;
      hi = mix(hi, byte, A);
      lo = mix(lo, byte, B);
    }
    this.hi = hi;
    this.lo = lo;
    this.applied++;
    this.last = seq;
    return this.applied;
  }

  /** The digest in hex: equal on ranks that applied the same commands at the same seqs. */
  stateHash(): string {
    return hex32(this.hi) + hex32(this.lo);
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(DIGEST_SNAPSHOT_BYTES);
    const view = new DataView(out.buffer);
    out.set(MAGIC, 0);
    view.setBigInt64(4, BigInt(this.last));
    view.setBigUint64(12, BigInt(this.applied));
    view.setUint32(20, this.hi);
    view.setUint32(24, this.lo);
    view.setUint32(20 + DIGEST_BYTES, crc32(out.subarray(0, 20 + DIGEST_BYTES)));
    return out;
  }

  /** Replace the state by a snapshot restored at seq. Throws (state unchanged) for bytes that are
   * not a snapshot of this machine, damaged ones, or one holding commands past seq. */
  restore(snapshot: Uint8Array, seq: number): void {
    if (snapshot.length !== DIGEST_SNAPSHOT_BYTES)
      throw refused(`${snapshot.length} bytes, expected ${DIGEST_SNAPSHOT_BYTES}`);
    if (!MAGIC.every((b, i) => snapshot[i] === b)) throw refused("not a digest snapshot");
    const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    const end = 20 + DIGEST_BYTES;
    if (view.getUint32(end) !== crc32(snapshot.subarray(0, end)))
      throw refused("checksum mismatch (damaged)");
    const last = Number(view.getBigInt64(4));
    const count = Number(view.getBigUint64(12));
    // No-ops (never applied) may follow the last command, so last may be below seq, never above.
    if (!Number.isSafeInteger(seq) || last < -1 || last > seq)
      throw refused(`last command at seq ${last}, restored at seq ${seq}`);
    // Each command applied had a seq of its own, 0..last.
    if (!Number.isSafeInteger(count) || count > last + 1)
      throw refused(`${count} commands applied by seq ${last}`);
    this.hi = view.getUint32(20);
    this.lo = view.getUint32(24);
    this.applied = count;
    this.last = last;
  }
}

const A = 0x9e3779b1;
const B = 0x85ebca77;

/** One step of a lane: fold x in, multiply, xorshift (murmur3's finaliser, applied per word). */
function mix(h: number, x: number, k: number): number {
  let v = Math.imul(h ^ x, k);
  v ^= v >>> 15;
  v = Math.imul(v, 0x2c1b3c6d);
  return (v ^ (v >>> 13)) >>> 0;
}

function hex32(x: number): string {
  return (x >>> 0).toString(16).padStart(8, "0");
}

function refused(why: string): DigestSnapshotError {
  return new DigestSnapshotError(`digest snapshot refused: ${why}`);
}
