// The master lease's peer messages on the binary wire (lease_codec.ts): exact round trips of every
// kind at the extremes, refusal (never a throw) of what the schema refuses, and a fuzz of mutated
// lease frames: whatever decodes is valid and canonical.
import { describe, expect, it } from "vitest";
import { Prng } from "../faults/prng.js";
import { leaseMsg, MAX_LEASE_MS, type LeaseMsg } from "../protocol/lease_messages.js";
import { wireMsg, type WireMsg } from "../protocol/messages.js";
import { decodeMsg, encodeMsg, TYPE_BYTES } from "./wire_codec.js";

const N = 5;
const big = Number.MAX_SAFE_INTEGER;

const samples: LeaseMsg[] = [
  { t: "lease", p: 0, from: 0, lease: { k: "prepare", b: { n: 0, r: 0 } } },
  { t: "lease", p: 0, from: 4, lease: { k: "promise", b: { n: big, r: 4 }, owner: null } },
  { t: "lease", p: 0, from: 1, lease: { k: "promise", b: { n: 7, r: 2 }, owner: 3 } },
  {
    t: "lease",
    p: 0,
    from: 2,
    lease: { k: "propose", b: { n: 9, r: 2 }, ms: MAX_LEASE_MS, term: 3 },
  },
  {
    t: "lease",
    p: 0,
    from: 2,
    lease: { k: "propose", b: { n: 9, r: 2 }, ms: 1, term: Number.MAX_SAFE_INTEGER },
  },
  { t: "lease", p: 0, from: 3, lease: { k: "accepted", b: { n: 2 ** 32, r: 1 } } },
  {
    t: "lease",
    p: 65535,
    from: 3,
    lease: { k: "reject", b: { n: 1, r: 1 }, higher: { n: big, r: 0 }, owner: 4 },
  },
  {
    t: "lease",
    p: 65535,
    from: 3,
    lease: { k: "reject", b: { n: 1, r: 1 }, higher: { n: 2, r: 3 }, owner: null },
  },
  { t: "lease", p: 0, from: 0, lease: { k: "release", b: { n: 5, r: 0 } } },
];

function decoded(msg: WireMsg, n = N) {
  return decodeMsg(encodeMsg(msg), n);
}

describe("lease messages on the wire", () => {
  it("round-trip exactly, every kind, under type byte 19", () => {
    for (const msg of samples) {
      expect(leaseMsg.safeParse(msg).success).toBe(true);
      const body = encodeMsg(msg);
      expect(body[0]).toBe(TYPE_BYTES.lease);
      expect(decodeMsg(body, N)).toStrictEqual({ ok: true, msg });
    }
  });

  it("refuses, without throwing, what the schema refuses", () => {
    const bad = [
      { k: "prepare", b: { n: -1, r: 0 } },
      { k: "prepare", b: { n: 1.5, r: 0 } },
      { k: "prepare", b: { n: 1, r: 64 } },
      { k: "promise", b: { n: 1, r: 0 }, owner: -1 },
      { k: "propose", b: { n: 1, r: 0 }, ms: 0, term: 1 },
      { k: "propose", b: { n: 1, r: 0 }, ms: MAX_LEASE_MS + 1, term: 1 },
      { k: "propose", b: { n: 1, r: 0 }, ms: 10, term: -1 },
      { k: "reject", b: { n: 1, r: 0 }, higher: { n: 2 ** 53, r: 0 }, owner: null },
    ];
    for (const lease of bad) {
      const msg = { t: "lease", p: 0, from: 0, lease } as WireMsg;
      expect(wireMsg.safeParse(msg).success, JSON.stringify(lease)).toBe(false);
      expect(decoded(msg), JSON.stringify(lease)).toMatchObject({ ok: false, kind: "malformed" });
    }
  });

  it("refuses a priority out of range", () => {
    const msg = { ...(samples[0] as LeaseMsg), p: 65536 };
    expect(wireMsg.safeParse(msg).success).toBe(false);
    expect(decoded(msg)).toMatchObject({ ok: false, detail: /priority/ });
  });

  it("refuses ranks outside the cluster in a ballot or as owner", () => {
    const inFive: LeaseMsg[] = [
      { t: "lease", p: 0, from: 0, lease: { k: "prepare", b: { n: 1, r: 5 } } },
      { t: "lease", p: 0, from: 0, lease: { k: "promise", b: { n: 1, r: 0 }, owner: 5 } },
      {
        t: "lease",
        p: 7,
        from: 0,
        lease: { k: "reject", b: { n: 1, r: 0 }, higher: { n: 1, r: 7 }, owner: null },
      },
    ];
    for (const msg of inFive) {
      expect(decoded(msg, 5)).toMatchObject({ ok: false, kind: "malformed" });
      expect(decoded(msg, 8)).toStrictEqual({ ok: true, msg });
    }
  });

  it("refuses an unknown lease kind and a truncated or padded body", () => {
    const body = encodeMsg(samples[1] as WireMsg);
    const unknown = Buffer.from(body);
    unknown[6] = 9;
    expect(decodeMsg(unknown, N)).toMatchObject({ ok: false, detail: /unknown lease kind 9/ });
    expect(decodeMsg(body.subarray(0, body.length - 1), N)).toMatchObject({ ok: false });
    expect(decodeMsg(Buffer.concat([body, Buffer.from([0])]), N)).toMatchObject({ ok: false });
  });

  it("survives mutated lease frames: whatever decodes is valid and encodes to the same bytes", () => {
    const rng = new Prng(13);
    const wrong: string[] = [];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const body = Buffer.from(encodeMsg(rng.pick(samples)));
      for (let m = rng.int(1, 3); m > 0; m--) {
        const at = rng.int(0, body.length - 1);
        body[at] = rng.chance(0.5) ? rng.int(0, 255) : (body[at] ?? 0) ^ (1 << rng.int(0, 7));
      }
      const cut = rng.chance(0.1) ? body.subarray(0, rng.int(0, body.length)) : body;
      const d = decodeMsg(cut, N);
      if (!d.ok) continue;
      accepted++;
      if (!wireMsg.safeParse(d.msg).success) wrong.push(`schema: ${cut.toString("hex")}`);
      if (!encodeMsg(d.msg).equals(cut)) wrong.push(`not canonical: ${cut.toString("hex")}`);
    }
    expect(wrong).toEqual([]);
    expect(accepted).toBeGreaterThan(1000);
  });
});
