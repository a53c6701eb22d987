// The `yasp` command's state machine: a running SHA-256 chain over (seq, command) of every
// command applied, and how many there were. It keeps nothing else, so its snapshot is a few dozen
// bytes whatever the load, yet two ranks that applied different commands, or the same ones at
// different seqs or in another order, end with different digests: comparing stateHash() at one
// appliedSeq is a check that the replicas agree. No-ops (empty commands) are never applied.
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import type { StateMachine } from "../ports.js";

// Snapshot layout (big-endian): magic "YDG1" | i64 last seq applied (-1: none) | u64 count |
// 32-byte digest | u32 crc32 of all before it. Fixed size: anything else is refused.
const MAGIC = Uint8Array.from([0x59, 0x44, 0x47, 0x31]);
const DIGEST_BYTES = 32;
export const DIGEST_SNAPSHOT_BYTES = MAGIC.length + 8 + 8 + DIGEST_BYTES + 4;

/** A snapshot that is not one this machine took (wrong size, magic or checksum, or impossible). */
export class DigestSnapshotError extends Error {
  override name = "DigestSnapshotError";
}

export class DigestMachine implements StateMachine {
  private digest: Uint8Array = new Uint8Array(DIGEST_BYTES);
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

  /** The chain: digest' = sha256(digest | u64 seq | u32 length | command). The length keeps
   * (seq, command) pairs apart from each other. Returns how many commands are applied now. */
  apply(seq: number, command: Uint8Array): number {
    // The rank applies in seq order; a seq again or going back is a bug upstream, not input.
    if (!Number.isSafeInteger(seq) || seq <= this.last)
      throw new Error(`digest machine: seq ${seq} applied after seq ${this.last}`);
    const head = new Uint8Array(12);
    const view = new DataView(head.buffer);
    view.setBigUint64(0, BigInt(seq));
    view.setUint32(8, command.length);
    this.digest = createHash("sha256").update(this.digest).update(head).update(command).digest();
    this.applied++;
    this.last = seq;
    return this.applied;
  }

  /** The digest in hex: equal on ranks that applied the same commands at the same seqs. */
  stateHash(): string {
    return Buffer.from(this.digest).toString("hex");
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(DIGEST_SNAPSHOT_BYTES);
    const view = new DataView(out.buffer);
    out.set(MAGIC, 0);
    view.setBigInt64(4, BigInt(this.last));
    view.setBigUint64(12, BigInt(this.applied));
    out.set(this.digest, 20);
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
    this.digest = snapshot.slice(20, end);
    this.applied = count;
    this.last = last;
  }
}

function refused(why: string): DigestSnapshotError {
  return new DigestSnapshotError(`digest snapshot refused: ${why}`);
}
