import { describe, expect, it } from "vitest";
import { Prng } from "../faults/prng.js";
import { encodeCommand, type ClientRef, type KvCommand, type KvResult } from "./commands.js";
import {
  KvMachine,
  KvMachineError,
  KvSnapshotError,
  MAX_CLIENTS,
  MAX_RESULTS_PER_CLIENT,
} from "./kv_machine.js";

const T0 = 1_700_000_000_000;
const val = (s: string) => new TextEncoder().encode(s);
const text = (v: Uint8Array | undefined) => (v ? new TextDecoder().decode(v) : undefined);
const put = (
  key: string,
  value: string,
  o: { ttlMs?: number; atMs?: number; client?: ClientRef } = {},
) =>
  encodeCommand({
    op: "put",
    key,
    value: val(value),
    ttlMs: o.ttlMs ?? 0,
    atMs: o.atMs ?? T0,
    ...(o.client ? { client: o.client } : {}),
  });
const cas = (key: string, version: number, value: string, atMs = T0) =>
  encodeCommand({ op: "cas", key, version, value: val(value), ttlMs: 0, atMs });
const del = (key: string, atMs = T0, client?: ClientRef) =>
  encodeCommand({ op: "delete", key, atMs, ...(client ? { client } : {}) });
const expire = (atMs: number) => encodeCommand({ op: "expire", atMs });

/** Applies commands at the seqs after the machine's last one. */
function run(m: KvMachine, ...cmds: Uint8Array[]): KvResult[] {
  return cmds.map((c) => m.apply(m.lastSeq + 1, c));
}

describe("KvMachine basics", () => {
  it("put/get: versions are revisions (seq + 1) and increase", () => {
    const m = new KvMachine();
    expect(run(m, put("a", "1"), put("b", "2"), put("a", "3"))).toEqual([
      { kind: "written", version: 1 },
      { kind: "written", version: 2 },
      { kind: "written", version: 3 },
    ]);
    expect(text(m.read("a", T0)?.value)).toBe("3");
    expect(m.read("a", T0)).toMatchObject({ version: 3, expiresAtMs: 0 });
    expect(m.read("zz", T0)).toBeUndefined();
    expect(m.size).toBe(2);
    expect(m.apply(10, put("a", "4"))).toEqual({ kind: "written", version: 11 }); // seqs may skip
  });

  it("cas: success, mismatch with the current version, not_found", () => {
    const m = new KvMachine();
    run(m, put("k", "v1"));
    expect(run(m, cas("k", 1, "v2"))).toEqual([{ kind: "written", version: 2 }]);
    expect(run(m, cas("k", 1, "v3"))).toEqual([
      { kind: "error", code: "version_mismatch", version: 2 },
    ]);
    expect(run(m, cas("nope", 0, "x"))).toEqual([{ kind: "error", code: "not_found" }]);
    expect(text(m.read("k", T0)?.value)).toBe("v2");
  });

  it("delete: the revision of the delete, then not_found", () => {
    const m = new KvMachine();
    run(m, put("k", "v"));
    expect(run(m, del("k"), del("k"))).toEqual([
      { kind: "deleted", version: 2 },
      { kind: "error", code: "not_found" },
    ]);
    expect(m.read("k", T0)).toBeUndefined();
    expect(m.size).toBe(0);
  });

  it("bad bytes: bad_command, state unchanged; a seq out of order throws", () => {
    const m = new KvMachine({ maxValueBytes: 4 });
    run(m, put("k", "v"));
    const before = m.stateHash();
    expect(run(m, Uint8Array.from([9, 9, 9]), new Uint8Array(0), put("k", "12345"))).toEqual([
      { kind: "error", code: "bad_command" },
      { kind: "error", code: "bad_command" },
      { kind: "error", code: "bad_command" },
    ]);
    expect(m.stateHash()).toBe(before);
    expect(() => m.apply(m.lastSeq, put("k", "v"))).toThrow(KvMachineError);
  });

  it("range: sorted, by prefix and [start, end), limited, hiding expired keys", () => {
    const m = new KvMachine();
    for (const k of ["b/2", "a", "b/1", "b/3", "c", "b/0"]) run(m, put(k, k));
    run(m, put("b/25", "x", { ttlMs: 10 }));
    const keys = (q: Parameters<KvMachine["range"]>[0], now = T0) =>
      m.range(q, now).map((e) => e.key);
    expect(keys({ limit: 100 })).toEqual(["a", "b/0", "b/1", "b/2", "b/25", "b/3", "c"]);
    expect(keys({ prefix: "b/", limit: 100 }, T0 + 10)).toEqual(["b/0", "b/1", "b/2", "b/3"]);
    expect(keys({ prefix: "b/", start: "b/1", end: "b/3", limit: 100 })).toEqual([
      "b/1",
      "b/2",
      "b/25",
    ]);
    expect(keys({ start: "b", limit: 2 })).toEqual(["b/0", "b/1"]);
    expect(keys({ prefix: "zz", limit: 5 })).toEqual([]);
    expect(m.range({ prefix: "c", limit: 1 }, T0)[0]).toMatchObject({ key: "c", version: 5 });
  });
});

describe("KvMachine expiry", () => {
  it("reads hide a key whose expiry passed by the reader's clock", () => {
    const m = new KvMachine();
    run(m, put("k", "v", { ttlMs: 1000 }));
    expect(m.read("k", T0 + 999)?.expiresAtMs).toBe(T0 + 1000);
    expect(m.read("k", T0 + 1000)).toBeUndefined();
    expect(m.size).toBe(1); // still there until the log's time passes it
    expect(m.earliestExpiryMs()).toBe(T0 + 1000);
  });

  it("keys are purged when log time passes them, at the same log position everywhere", () => {
    const cmds = [
      put("a", "1", { ttlMs: 100 }),
      put("b", "2", { ttlMs: 300 }),
      put("c", "3", { atMs: T0 + 50 }),
      put("a", "again", { atMs: T0 + 60, ttlMs: 100 }), // now expires at T0 + 160
      put("x", "4", { atMs: T0 + 120 }), // log time T0 + 120: nothing expired yet
      expire(T0 + 170), // a gone
      put("y", "5", { atMs: T0 + 10 }), // an old clock does not move log time back
      expire(T0 + 400), // b gone
    ];
    const sizes = [1, 2, 3, 3, 4, 3, 4, 3];
    const m1 = new KvMachine();
    const m2 = new KvMachine();
    cmds.forEach((c, i) => {
      run(m1, c);
      run(m2, c);
      expect(m1.size).toBe(sizes[i]);
      expect(m1.stateHash()).toBe(m2.stateHash());
    });
    expect(m1.logNowMs).toBe(T0 + 400);
    expect(m1.read("a", 0)).toBeUndefined();
    expect(m1.earliestExpiryMs()).toBeUndefined();
  });

  it("overwrites and deletes do not leave stale expiries behind", () => {
    const m = new KvMachine();
    run(m, put("k", "v", { ttlMs: 10 }), put("k", "w"), put("j", "v", { ttlMs: 50 }), del("j"));
    expect(m.earliestExpiryMs()).toBeUndefined();
    run(m, expire(T0 + 100));
    expect(text(m.read("k", T0 + 100)?.value)).toBe("w");
    for (let i = 0; i < 5000; i++) run(m, put("hot", String(i), { ttlMs: 1_000_000 }));
    expect(m.earliestExpiryMs()).toBe(T0 + 1_000_000);
  });
});

describe("KvMachine exactly-once", () => {
  const c = (req: number, low = req) => ({ id: "client-1", req, low });

  it("a repeated (id, req) gets the first result and is not applied again", () => {
    const m = new KvMachine();
    const first = run(m, put("k", "v", { client: c(1) }));
    const hash = m.stateHash();
    const again = run(m, put("k", "v", { client: c(1) }));
    expect(again).toEqual(first);
    expect(m.read("k", T0)?.version).toBe(1);
    // Only the client's activity changed (and it is in the hash): not the key.
    expect(m.stateHash()).not.toBe(hash);
    expect(run(m, del("k", T0, c(2)), del("k", T0, c(2)))).toEqual([
      { kind: "deleted", version: 3 },
      { kind: "deleted", version: 3 },
    ]);
  });

  it("requests below the client's low are stale_request; those at or above are kept", () => {
    const m = new KvMachine();
    run(m, put("k", "1", { client: c(1) }), put("k", "2", { client: c(2, 1) }));
    run(m, put("k", "3", { client: c(3, 2) })); // req 1 forgotten
    expect(run(m, put("k", "1", { client: c(1) }))).toEqual([
      { kind: "error", code: "stale_request" },
    ]);
    expect(run(m, put("k", "2", { client: c(2) }))).toEqual([{ kind: "written", version: 2 }]);
    expect(m.read("k", T0)?.version).toBe(3);
    // Out of order in the log but above low: applied once.
    const m2 = new KvMachine();
    run(m2, put("k", "5", { client: c(5, 4) }), put("k", "4", { client: c(4, 4) }));
    expect(text(m2.read("k", T0)?.value)).toBe("4");
  });

  it("keeps at most 1024 results per client, forgetting the oldest as stale", () => {
    const m = new KvMachine();
    for (let req = 0; req <= MAX_RESULTS_PER_CLIENT; req++)
      run(m, put("k", "v", { client: c(req, 0) }));
    expect(run(m, put("k", "v", { client: c(0, 0) }))).toEqual([
      { kind: "error", code: "stale_request" },
    ]);
    expect(run(m, put("k", "v", { client: c(1, 0) }))).toEqual([{ kind: "written", version: 2 }]);
  });

  it("evicts the least recently active client past 100 000", { timeout: 60_000 }, () => {
    const m = new KvMachine();
    run(m, put("k", "first", { client: { id: "old", req: 1, low: 1 } }));
    run(m, put("k", "kept", { client: { id: "busy", req: 1, low: 1 } }));
    for (let i = 0; i < MAX_CLIENTS - 2; i++)
      run(m, expire(T0), del("none", T0, { id: `c${i}`, req: 1, low: 1 }));
    run(m, put("k", "again", { client: { id: "busy", req: 1, low: 1 } })); // busy is active again
    run(m, del("none", T0, { id: "newcomer", req: 1, low: 1 })); // one too many: "old" goes
    expect(run(m, put("k", "x", { client: { id: "busy", req: 1, low: 1 } }))).toEqual([
      { kind: "written", version: 2 },
    ]);
    const v = run(m, put("k", "y", { client: { id: "old", req: 1, low: 1 } }))[0];
    expect(v).toEqual({ kind: "written", version: m.lastSeq + 1 }); // forgotten: applied again
  });
});

/** Random commands over a few keys and clients, drawn from rng only; some are retries of earlier
 * client commands (answered from the table, or stale once forgotten), some are not commands. */
function randomCommands(rng: Prng, n: number): Uint8Array[] {
  const int = (k: number) => Math.floor(rng.next() * k);
  const out: Uint8Array[] = [];
  const withClient: Uint8Array[] = [];
  for (let step = 0; step < n; step++) {
    if (withClient.length > 0 && rng.next() < 0.1) {
      out.push(withClient[withClient.length - 1 - int(Math.min(40, withClient.length))]!);
      continue;
    }
    const key = `k${int(12)}`;
    const atMs = T0 + step * 10 - int(30); // clocks that disagree a little
    const client =
      rng.next() < 0.5
        ? { id: `c${int(4)}`, req: step, low: Math.max(0, step - int(20)) }
        : undefined;
    const base = { key, atMs, ...(client ? { client } : {}) };
    const r = rng.next();
    let cmd: KvCommand;
    if (r < 0.4) cmd = { op: "put", ...base, value: val(String(int(1000))), ttlMs: int(3) * 100 };
    else if (r < 0.6)
      cmd = { op: "cas", ...base, version: Math.max(0, step - int(20)), value: val("c"), ttlMs: 0 };
    else if (r < 0.8) cmd = { op: "delete", ...base };
    else if (r < 0.95) cmd = { op: "expire", atMs };
    else {
      out.push(Uint8Array.from({ length: int(20) }, () => int(256)));
      continue;
    }
    const bytes = encodeCommand(cmd);
    if (cmd.op !== "expire" && cmd.client) withClient.push(bytes);
    out.push(bytes);
  }
  return out;
}

describe("KvMachine determinism and snapshots", () => {
  it("machines fed the same commands agree; a snapshot restored midway catches up", () => {
    const rng = new Prng(7);
    const cmds = randomCommands(rng, 5000);
    const a = new KvMachine();
    const b = new KvMachine();
    const mid = 2500;
    let c: KvMachine | undefined;
    const resultsA: KvResult[] = [];
    const resultsC: KvResult[] = [];
    cmds.forEach((cmd, i) => {
      if (i === mid) {
        c = new KvMachine();
        c.restore(a.snapshot(), a.lastSeq);
        expect(c.stateHash()).toBe(a.stateHash());
      }
      resultsA.push(a.apply(i, cmd));
      b.apply(i, cmd);
      if (c) resultsC.push(c.apply(i, cmd));
      if (i % 50 === 0) {
        // The heap's answer is the smallest expiry among the keys that are there.
        const expiring = a.range({ limit: 1e9 }, 0).filter((e) => e.expiresAtMs > 0);
        const soonest = Math.min(...expiring.map((e) => e.expiresAtMs));
        expect(a.earliestExpiryMs()).toBe(expiring.length > 0 ? soonest : undefined);
      }
    });
    expect(b.stateHash()).toBe(a.stateHash());
    expect(c?.stateHash()).toBe(a.stateHash());
    expect(resultsC).toEqual(resultsA.slice(mid));
    expect(a.size).toBeGreaterThan(0);
    expect(new Set(resultsA.map((r) => (r.kind === "error" ? r.code : r.kind))).size).toBe(7);
  });

  it("the hash does not depend on insertion order", () => {
    const a = new KvMachine();
    const b = new KvMachine();
    a.apply(0, put("x", "1"));
    a.apply(1, put("y", "2"));
    b.apply(0, put("x", "1"));
    b.apply(1, put("y", "2"));
    expect(a.stateHash()).toMatch(/^[0-9a-f]{16}$/);
    expect(b.stateHash()).toBe(a.stateHash());
    const c = new KvMachine();
    c.apply(0, put("y", "0"));
    c.apply(1, put("x", "1")); // x at version 2: a different state
    expect(c.stateHash()).not.toBe(a.stateHash());
  });

  it("snapshot → restore: same hash, same answers, expiry and client table included", () => {
    const a = new KvMachine();
    run(a, put("k", "v", { ttlMs: 100, client: { id: "c", req: 1, low: 1 } }), put("z", "w"));
    const b = new KvMachine();
    b.restore(a.snapshot(), 5); // no-ops may follow the last applied seq
    expect(b.stateHash()).toBe(a.stateHash());
    expect(b.lastSeq).toBe(5);
    expect(b.earliestExpiryMs()).toBe(T0 + 100);
    expect(b.apply(6, put("k", "v", { client: { id: "c", req: 1, low: 1 } }))).toEqual({
      kind: "written",
      version: 1,
    });
    b.apply(7, expire(T0 + 100));
    expect(b.read("k", 0)).toBeUndefined();
    expect(() => new KvMachine().restore(a.snapshot(), 0)).toThrow(KvSnapshotError); // taken later
  });

  it("restore refuses garbage with KvSnapshotError and keeps the state", () => {
    const a = new KvMachine();
    run(a, put("k", "v"));
    const good = a.snapshot();
    const m = new KvMachine();
    run(m, put("mine", "1"));
    const hash = m.stateHash();
    const rng = new Prng(3);
    const bad: Uint8Array[] = [new Uint8Array(0), Uint8Array.from([1, 2, 3]), good.subarray(1)];
    for (let i = 0; i < 300; i++) {
      const b = Uint8Array.from(good);
      const at = Math.floor(rng.next() * b.length);
      b[at] = (b[at] ?? 0) ^ (1 + Math.floor(rng.next() * 255));
      bad.push(b);
    }
    const otherVersion = Uint8Array.from(good);
    otherVersion[4] = 3;
    bad.push(otherVersion);
    for (const b of bad) expect(() => m.restore(b, 10)).toThrow(KvSnapshotError);
    expect(m.stateHash()).toBe(hash);
  });
});
