import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameReader,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type ClientRequest,
  type ClientResponse,
} from "./client_wire.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const big = new Uint8Array(70_000).map((_, i) => i % 251);

const REQUESTS: ClientRequest[] = [
  { type: "hello", id: 0, version: 1, clientId: "0123456789abcdef", token: "" },
  { type: "hello", id: 1, version: 1, clientId: "c", token: "s3cret ✓" },
  { type: "put", id: 2, key: "k", value: bytes("v\r\n"), ttlMs: 0, req: 1, low: 1 },
  { type: "put", id: 0xffffffff, key: "ключ", value: big, ttlMs: 5000, req: 2 ** 53 - 1, low: 7 },
  { type: "put", id: 3, key: "empty", value: new Uint8Array(0), ttlMs: 1, req: 3, low: 0 },
  { type: "get", id: 4, key: "k", stale: false },
  { type: "get", id: 5, key: "x".repeat(4096), stale: true },
  { type: "getm", id: 6, key: "k", stale: true },
  { type: "delete", id: 7, key: "k", req: 9, low: 8 },
  {
    type: "cas",
    id: 8,
    key: "k",
    version: 12,
    value: bytes("new"),
    ttlMs: 0,
    req: 10,
    low: 10,
  },
  { type: "range", id: 9, selector: { prefix: "" }, limit: 0, stale: false },
  { type: "range", id: 10, selector: { prefix: "a/" }, limit: 100, stale: true },
  { type: "range", id: 11, selector: { start: "a", end: "b" }, limit: 5, stale: false },
  { type: "range", id: 12, selector: { start: "a", end: "" }, limit: 5, stale: false },
  { type: "status", id: 13 },
  { type: "put", id: 14, key: "e", value: bytes("1"), ttlMs: 0, req: 4, low: 4, session: 9 },
  {
    type: "put",
    id: 15,
    key: "e",
    value: bytes("2"),
    ttlMs: 0,
    req: 5,
    low: 4,
    ifHolds: { lock: "L", token: 77 },
  },
  {
    type: "cas",
    id: 16,
    key: "e",
    version: 3,
    value: bytes("3"),
    ttlMs: 10,
    req: 6,
    low: 6,
    session: 2,
    ifHolds: { lock: "lock/ä", token: 2 ** 40 },
  },
  { type: "delete", id: 17, key: "e", req: 7, low: 7, ifHolds: { lock: "L", token: 1 } },
  { type: "session_open", id: 18, ttlMs: 10_000, req: 8, low: 1 },
  { type: "session_keepalive", id: 19, session: 12345 },
  { type: "session_close", id: 20, session: 12345, req: 9, low: 9 },
  { type: "acquire", id: 21, lock: "L", session: 5, wait: true, req: 10, low: 2 },
  { type: "acquire", id: 22, lock: "x".repeat(4096), session: 5, wait: false, req: 11, low: 2 },
  { type: "release", id: 23, lock: "L", token: 99, req: 12, low: 12 },
  { type: "cancel_wait", id: 24, lock: "L", session: 5, req: 13, low: 13 },
  { type: "watch", id: 25, selector: { key: "k" }, fromRevision: 0, prevValue: false },
  { type: "watch", id: 26, selector: { prefix: "" }, fromRevision: 2 ** 50, prevValue: true },
  { type: "unwatch", id: 27, watch: 0xffffffff },
  { type: "master", id: 28 },
];

const RESPONSES: ClientResponse[] = [
  { type: "ok", id: 0 },
  { type: "written", id: 1, version: 1 },
  { type: "written", id: 2, version: 2 ** 53 - 1 },
  { type: "value", id: 3, value: big, version: 4, expiresInMs: 0 },
  { type: "value", id: 4, value: new Uint8Array(0), version: 4, expiresInMs: 999 },
  { type: "deleted", id: 5, version: 77 },
  { type: "entries", id: 6, entries: [], more: false },
  {
    type: "entries",
    id: 7,
    entries: [
      { key: "a", value: bytes("1"), version: 2, expiresInMs: 0 },
      { key: "b", value: new Uint8Array(0), version: 3, expiresInMs: 10 },
    ],
    more: true,
  },
  { type: "status", id: 8, json: JSON.stringify({ rank: 0, ok: "✓" }) },
  { type: "error", id: 9, code: "not_found", message: "" },
  { type: "error", id: 10, code: "version_mismatch", message: "current 5", version: 5 },
  { type: "error", id: 11, code: "too_large", message: "value of 2000000 bytes" },
  { type: "error", id: 12, code: "bad_request", message: "x" },
  { type: "error", id: 13, code: "unauthenticated", message: "bad token" },
  { type: "error", id: 14, code: "not_ready", message: "catching up" },
  { type: "error", id: 15, code: "internal", message: "oops" },
  { type: "error", id: 16, code: "stale_request", message: "forgotten" },
  { type: "error", id: 17, code: "no_session", message: "" },
  { type: "error", id: 18, code: "lock_held", message: "held", version: 41 },
  { type: "error", id: 19, code: "not_holder", message: "" },
  { type: "error", id: 20, code: "fence_failed", message: "" },
  { type: "error", id: 21, code: "not_master", message: "ask rank 2", master: 2 },
  { type: "error", id: 22, code: "not_master", message: "no master known" },
  { type: "error", id: 23, code: "busy", message: "10000 waiters" },
  { type: "session", id: 24, session: 17, ttlMs: 5000 },
  { type: "kept", id: 25, ttlMs: 5000 },
  { type: "granted", id: 26, token: 2 ** 53 - 1 },
  { type: "master", id: 27, master: { rank: 4, epoch: 1234 } },
  { type: "master", id: 28, master: null },
  { type: "watching", id: 29, fromRevision: 55 },
  { type: "events", id: 30, through: 56, events: [] },
  {
    type: "events",
    id: 31,
    through: 60,
    events: [
      { revision: 57, kind: "put", key: "a", value: bytes("1") },
      { revision: 58, kind: "put", key: "a", value: big, prevValue: bytes("1") },
      { revision: 59, kind: "delete", key: "a", prevValue: new Uint8Array(0) },
      { revision: 59, kind: "expire", key: "b" },
    ],
  },
  { type: "watch_ended", id: 32, code: "compacted", revision: 1000 },
  { type: "watch_ended", id: 33, code: "slow", revision: 61 },
  { type: "watch_ended", id: 34, code: "cancelled", revision: 61 },
];

/** The frame as FrameReader would hand it out. */
const body = (frame: Uint8Array) => frame.subarray(4);

describe("client wire round trips", () => {
  it.each(REQUESTS.map((r) => [r.type, r] as const))("request %s", (_, req) => {
    const frame = encodeRequest(req);
    expect(Buffer.from(frame).readUInt32LE(0)).toBe(frame.length - 4);
    expect(decodeRequest(body(frame))).toEqual({ ok: true, message: req });
  });

  it.each(RESPONSES.map((r) => [r.type, r] as const))("response %s", (_, res) => {
    expect(decodeResponse(body(encodeResponse(res)))).toEqual({ ok: true, message: res });
  });

  it("lays out a get byte by byte as documented", () => {
    const frame = encodeRequest({ type: "get", id: 0x01020304, key: "ab", stale: true });
    expect([...frame]).toEqual([12, 0, 0, 0, 0x03, 4, 3, 2, 1, 2, 0, 0, 0, 97, 98, 1]);
  });
});

describe("client wire: coordination layouts", () => {
  it("keeps a put without conditions byte for byte as version 1 wrote it", () => {
    const plain = encodeRequest({
      type: "put",
      id: 1,
      key: "k",
      value: bytes("v"),
      ttlMs: 0,
      req: 1,
      low: 1,
    });
    expect(plain[4]).toBe(0x02);
    const none = encodeRequest({
      type: "put",
      id: 1,
      key: "k",
      value: bytes("v"),
      ttlMs: 0,
      req: 1,
      low: 1,
      session: 0,
    });
    expect(Buffer.from(none).equals(Buffer.from(plain))).toBe(true);
  });

  it("lays out a fenced delete as delete, then the conditions", () => {
    const frame = encodeRequest({
      type: "delete",
      id: 2,
      key: "k",
      req: 3,
      low: 1,
      ifHolds: { lock: "L", token: 7 },
    });
    const plain = encodeRequest({ type: "delete", id: 2, key: "k", req: 3, low: 1 });
    expect(frame[4]).toBe(0x14);
    expect([...frame.subarray(5, plain.length)]).toEqual([...plain.subarray(5)]);
    const tail = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 76, 7, 0, 0, 0, 0, 0, 0, 0];
    expect([...frame.subarray(plain.length)]).toEqual(tail);
  });

  it("refuses a delete with a session, a bad watch mode, an unknown event kind", () => {
    const del = encodeRequest({ type: "delete", id: 3, key: "k", req: 1, low: 1, session: 5 });
    expect(decodeRequest(body(del))).toMatchObject({ ok: false, id: 3, code: "bad_request" });
    const watch = Uint8Array.from(
      body(
        encodeRequest({
          type: "watch",
          id: 4,
          selector: { key: "k" },
          fromRevision: 0,
          prevValue: false,
        }),
      ),
    );
    watch[5] = 2;
    expect(decodeRequest(watch)).toMatchObject({ ok: false, id: 4 });
    const events = Uint8Array.from(
      body(
        encodeResponse({
          type: "events",
          id: 5,
          through: 2,
          events: [{ revision: 1, kind: "expire", key: "k" }],
        }),
      ),
    );
    events[5 + 8 + 4 + 8] = 9;
    expect(decodeResponse(events)).toMatchObject({ ok: false, id: 5 });
  });

  it("refuses an event count the frame cannot hold", () => {
    const f = Uint8Array.from(
      body(encodeResponse({ type: "events", id: 6, through: 1, events: [] })),
    );
    Buffer.from(f.buffer).writeUInt32LE(1_000_000, 5 + 8);
    expect(decodeResponse(f)).toMatchObject({ ok: false, id: 6 });
  });
});

describe("client wire refusals", () => {
  it("refuses a key over 4096 bytes as too_large, with the request id", () => {
    const frame = encodeRequest({ type: "get", id: 42, key: "x".repeat(4097), stale: false });
    expect(decodeRequest(body(frame))).toMatchObject({ ok: false, id: 42, code: "too_large" });
  });

  it("refuses an empty key, an unknown type, a bad version, trailing bytes", () => {
    const empty = encodeRequest({ type: "delete", id: 1, key: "", req: 1, low: 1 });
    expect(decodeRequest(body(empty))).toMatchObject({ ok: false, id: 1, code: "bad_request" });
    expect(decodeRequest(Uint8Array.of(0x7f, 9, 0, 0, 0))).toMatchObject({ ok: false, id: 9 });
    const hello = encodeRequest({ type: "hello", id: 2, version: 2, clientId: "c", token: "" });
    expect(decodeRequest(body(hello))).toMatchObject({ ok: false, id: 2 });
    const status = Buffer.concat([body(encodeRequest({ type: "status", id: 3 })), Buffer.of(0)]);
    expect(decodeRequest(status)).toMatchObject({ ok: false, id: 3 });
  });

  it("says the id is unreadable when the frame is shorter than its header", () => {
    expect(decodeRequest(Uint8Array.of(0x03, 1, 2))).toMatchObject({ ok: false, id: undefined });
    expect(decodeResponse(new Uint8Array(0))).toMatchObject({ ok: false, id: undefined });
  });

  it("refuses numbers beyond 2^53 - 1 written by a lenient encoder", () => {
    const frame = encodeRequest({
      type: "put",
      id: 5,
      key: "k",
      value: bytes(""),
      ttlMs: -1,
      req: 1,
      low: 1,
    });
    expect(decodeRequest(body(frame))).toMatchObject({ ok: false, id: 5 });
  });

  it("refuses a low above req", () => {
    const frame = encodeRequest({ type: "delete", id: 6, key: "k", req: 3, low: 4 });
    expect(decodeRequest(body(frame))).toMatchObject({ ok: false, id: 6 });
  });
});

/** A small seeded generator (xorshift32): fuzz failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

describe("client wire fuzz: decoders never throw", () => {
  const random = rng(12345);
  const frames = [...REQUESTS.map(encodeRequest), ...RESPONSES.map(encodeResponse)].map(body);

  it("random bytes", () => {
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(random() * 64);
      const b = new Uint8Array(len).map(() => Math.floor(random() * 256));
      if (len > 0 && random() < 0.5) b[0] = random() < 0.5 ? 0x80 + (i % 8) : 1 + (i % 8);
      expect(() => decodeRequest(b)).not.toThrow();
      expect(() => decodeResponse(b)).not.toThrow();
    }
  });

  it("mutated and truncated valid frames", () => {
    for (let i = 0; i < 20_000; i++) {
      const f = Uint8Array.from(frames[i % frames.length] as Uint8Array);
      const flips = 1 + Math.floor(random() * 4);
      for (let j = 0; j < flips && f.length > 0; j++)
        f[Math.floor(random() * f.length)] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? f.subarray(0, Math.floor(random() * f.length)) : f;
      const req = decodeRequest(cut);
      const res = decodeResponse(cut);
      if (!req.ok && cut.length >= 5) expect(req.id).toBeTypeOf("number");
      if (!res.ok && cut.length >= 5) expect(res.id).toBeTypeOf("number");
    }
  });
});

describe("FrameReader", () => {
  const all = [...REQUESTS.map(encodeRequest)];
  const stream = Buffer.concat(all);

  it("splits frames across every chunk boundary pattern", () => {
    const random = rng(7);
    for (let round = 0; round < 50; round++) {
      const reader = new FrameReader(DEFAULT_MAX_FRAME_BYTES);
      const got: ClientRequest[] = [];
      for (let at = 0; at < stream.length;) {
        const size = round === 0 ? 1 : 1 + Math.floor(random() * 3000);
        const chunk = Uint8Array.from(stream.subarray(at, at + size));
        at += size;
        const { frames, error } = reader.push(chunk);
        if (error !== undefined) throw new Error(error);
        for (const f of frames) {
          const d = decodeRequest(f);
          if (!d.ok) throw new Error(d.error);
          got.push(d.message);
        }
      }
      // Re-encoding compares the 70 kB value faster than a deep equality would.
      expect(Buffer.concat(got.map(encodeRequest)).equals(stream)).toBe(true);
      expect(reader.buffered).toBe(0);
    }
  });

  it("refuses an oversized length without buffering the frame", () => {
    const reader = new FrameReader(1000);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(1001);
    const ok = encodeRequest({ type: "status", id: 1 });
    const res = reader.push(Buffer.concat([ok, head.subarray(0, 2)]));
    expect(res.frames).toHaveLength(1);
    expect(res.error).toBeUndefined();
    const bad = reader.push(Buffer.concat([head.subarray(2), Buffer.alloc(500)]));
    expect(bad.error).toMatch(/1001 bytes \(limit 1000\)/);
    expect(reader.buffered).toBe(0);
    expect(reader.push(ok).error).toBeDefined(); // dead after an error: the caller closes
  });

  it("refuses a frame too short to hold its header", () => {
    expect(new FrameReader(1000).push(Uint8Array.of(4, 0, 0, 0, 1, 2, 3, 4)).error).toMatch(
      /at least 5/,
    );
  });

  it("accepts a frame of exactly the limit", () => {
    const f = encodeRequest({ type: "put", id: 1, key: "k", value: big, ttlMs: 0, req: 1, low: 1 });
    const reader = new FrameReader(f.length - 4);
    const first = reader.push(f.subarray(0, 100));
    expect(reader.buffered).toBe(100);
    const rest = reader.push(f.subarray(100));
    expect([first.frames.length, rest.frames.length, rest.error]).toEqual([0, 1, undefined]);
  });
});
