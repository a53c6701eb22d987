// The binary body of a "lease" peer message (wire_codec.ts, type 19), after the type and sender:
//
//   u32 priority, u8 kind (LEASE_KIND_BYTES), ballot, then by kind:
//     promise  u8 owner        propose  u32 ms, nat term        reject  ballot higher, u8 owner
//     prepare, accepted, release: nothing more
//   ballot: nat n, u8 r (a rank); owner: u8 rank, or 255 for none (null)
//
// Like the rest of the wire: the writer never throws (a value the schema refuses is written so
// that the reader refuses it), the reader checks what lease_messages.ts's schema checks (ranks
// inside the cluster of n) and throws DecodeError, which decodeMsg turns into a refusal.
import {
  LEASE_KIND_BYTES,
  MAX_LEASE_MS,
  MAX_PRIORITY,
  type Ballot,
  type LeaseBody,
  type LeaseMsg,
} from "../protocol/lease_messages.js";
import { DecodeError, type Reader, type Writer } from "./binary.js";

const NO_OWNER = 0xff;
/** Written for a rank the schema refuses: no cluster has it, so the reader refuses it. */
const BAD_RANK = 0xfe;

const KINDS: ReadonlyArray<LeaseBody["k"] | undefined> = (() => {
  const kinds: Array<LeaseBody["k"] | undefined> = [];
  for (const [k, b] of Object.entries(LEASE_KIND_BYTES)) kinds[b] = k as LeaseBody["k"];
  return kinds;
})();

function rankByte(r: number): number {
  return Number.isInteger(r) && r >= 0 && r < 64 ? r : BAD_RANK;
}

function writeBallot(w: Writer, b: Ballot): void {
  w.nat(b.n);
  w.u8(rankByte(b.r));
}

/** Bytes writeLease writes at most. */
export const LEASE_BYTES = 4 + 1 + 9 + 9 + 1 + 8;

export function writeLease(w: Writer, msg: LeaseMsg): void {
  const body = msg.lease;
  w.u32In(msg.p, 0, MAX_PRIORITY, 0xffffffff);
  w.u8(LEASE_KIND_BYTES[body.k] ?? 0);
  writeBallot(w, body.b);
  switch (body.k) {
    case "promise":
      w.u8(body.owner === null ? NO_OWNER : rankByte(body.owner));
      break;
    case "propose":
      w.u32In(body.ms, 1, MAX_LEASE_MS, 0);
      w.nat(body.term);
      break;
    case "reject":
      writeBallot(w, body.higher);
      w.u8(body.owner === null ? NO_OWNER : rankByte(body.owner));
      break;
    default:
      break;
  }
}

function readRank(r: Reader, what: string, n: number): number {
  const v = r.u8(what);
  if (v >= n) throw new DecodeError(`${what} ${v} is not in the cluster`);
  return v;
}

function readOwner(r: Reader, n: number): number | null {
  const v = r.u8("owner");
  if (v === NO_OWNER) return null;
  if (v >= n) throw new DecodeError(`owner ${v} is not in the cluster`);
  return v;
}

function readBallot(r: Reader, n: number): Ballot {
  const bn = r.nat("ballot");
  return { n: bn, r: readRank(r, "ballot rank", n) };
}

/** The lease message from `from` in the rest of r, for a cluster of n ranks (throws DecodeError). */
export function readLease(r: Reader, from: number, n: number): LeaseMsg {
  const p = r.u32In("priority", 0, MAX_PRIORITY);
  return { t: "lease", from, p, lease: readBody(r, n) };
}

function readBody(r: Reader, n: number): LeaseBody {
  const byte = r.u8("lease kind");
  const k = KINDS[byte];
  if (k === undefined) throw new DecodeError(`unknown lease kind ${byte}`);
  const b = readBallot(r, n);
  switch (k) {
    case "promise":
      return { k, b, owner: readOwner(r, n) };
    case "propose":
      return { k, b, ms: r.u32In("lease ms", 1, MAX_LEASE_MS), term: r.nat("term") };
    case "reject": {
      const higher = readBallot(r, n);
      return { k, b, higher, owner: readOwner(r, n) };
    }
    case "prepare":
    case "accepted":
    case "release":
      return { k, b };
  }
}
