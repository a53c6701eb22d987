import { describe, expect, it } from "vitest";
import { Prng } from "../faults/prng.js";
import { decodeCommand, encodeCommand, type ClientRef, type KvCommand } from "./commands.js";
import { KvMachine, KvSnapshotError, type MachineNotice } from "./kv_machine.js";
import type { KvResult } from "./results.js";

const T0 = 1_700_000_000_000;
const val = (s: string) => new TextEncoder().encode(s);
const text = (v: Uint8Array | undefined) => (v ? new TextDecoder().decode(v) : undefined);
const enc = (c: KvCommand) => encodeCommand(c);
const open = (ttlMs = 5000, client?: ClientRef) =>
  enc({ op: "session_open", ttlMs, atMs: T0, ...(client ? { client } : {}) });
const acquire = (lock: string, session: number, wait = true, client?: ClientRef) =>
  enc({ op: "acquire", lock, session, wait, atMs: T0, ...(client ? { client } : {}) });
const release = (lock: string, token: number) => enc({ op: "release", lock, token, atMs: T0 });
const master = (rank: number, term: number) => enc({ op: "master", rank, term, atMs: T0 });
const expireSessions = (sessions: number[], epoch: number) =>
  enc({ op: "session_expire", sessions, epoch, atMs: T0 });
const put = (key: string, value: string, extra: Partial<Extract<KvCommand, { op: "put" }>> = {}) =>
  enc({ op: "put", key, value: val(value), ttlMs: 0, atMs: T0, ...extra });

function run(m: KvMachine, ...cmds: Uint8Array[]): KvResult[] {
  return cmds.map((c) => m.apply(m.lastSeq + 1, c));
}

function sessionOf(r: KvResult | undefined): number {
  if (r?.kind !== "session") throw new Error(`not a session: ${JSON.stringify(r)}`);
  return r.session;
}

describe("coordination commands: codec", () => {
  it("round-trips every new op and the write conditions, and refuses junk", () => {
    const client = { id: "c1", req: 7, low: 3 };
    const cmds: KvCommand[] = [
      { op: "session_open", ttlMs: 5000, atMs: T0, client },
      { op: "session_close", session: 12, atMs: T0 },
      { op: "session_expire", sessions: [3, 9, 12], epoch: 40, atMs: T0 },
      { op: "master", rank: 2, term: 17, atMs: T0 },
      { op: "acquire", lock: "L", session: 3, wait: false, atMs: T0, client },
      { op: "release", lock: "L", token: 44, atMs: T0 },
      { op: "cancel_wait", lock: "L", session: 3, atMs: T0, client },
      { op: "put", key: "k", value: val("v"), ttlMs: 0, atMs: T0, session: 3 },
      {
        op: "put",
        key: "k",
        value: val("v"),
        ttlMs: 0,
        atMs: T0,
        ifHolds: { lock: "L", token: 9 },
      },
      { op: "delete", key: "k", atMs: T0, client, ifHolds: { lock: "L", token: 9 } },
    ];
    for (const c of cmds) expect(decodeCommand(encodeCommand(c))).toEqual(c);
    const plain = encodeCommand({ op: "delete", key: "k", atMs: T0 });
    const withFlags = Uint8Array.from([...plain, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(decodeCommand(withFlags)).toHaveProperty("error"); // a delete has no session
    expect(decodeCommand(Uint8Array.from([...plain, 0]))).toHaveProperty("error");
    expect(decodeCommand(Uint8Array.from([12]))).toHaveProperty("error");
    expect(() =>
      encodeCommand({ op: "acquire", lock: "", session: 1, wait: true, atMs: 0 }),
    ).toThrow(RangeError);
  });
});

describe("sessions and locks", () => {
  it("grants with increasing tokens, queues FIFO, hands over on release", () => {
    const m = new KvMachine();
    const [a, b, c] = run(m, open(), open(), open()).map(sessionOf) as [number, number, number];
    const [ga, gb, gc] = run(m, acquire("L", a), acquire("L", b), acquire("L", c));
    expect(ga).toEqual({ kind: "granted", token: 4 });
    expect(gb).toEqual({ kind: "queued" });
    expect(gc).toEqual({ kind: "queued" });
    expect(m.lock("L")).toEqual({ holder: { session: a, token: 4 }, waiting: 2 });
    expect(run(m, release("L", 3))).toEqual([{ kind: "error", code: "not_holder", version: 4 }]);
    expect(run(m, release("L", 4))).toEqual([{ kind: "released" }]);
    expect(m.lock("L")?.holder).toEqual({ session: b, token: 8 });
    expect(run(m, acquire("L", b))).toEqual([{ kind: "granted", token: 8 }]); // same session
    expect(run(m, acquire("L", a, false))).toEqual([
      { kind: "error", code: "lock_held", version: 8 },
    ]);
    run(m, release("L", 8));
    expect(m.lock("L")?.holder?.session).toBe(c);
    run(m, release("L", m.lock("L")?.holder?.token ?? -1));
    expect(m.lock("L")).toBeUndefined(); // free and nobody waits: nothing kept
  });

  it("fenced writes apply only while the token holds the lock", () => {
    const m = new KvMachine();
    const s = sessionOf(run(m, open())[0]);
    const g = run(m, acquire("L", s))[0];
    const token = g?.kind === "granted" ? g.token : -1;
    expect(run(m, put("x", "1", { ifHolds: { lock: "L", token } }))[0]?.kind).toBe("written");
    run(m, release("L", token));
    expect(run(m, put("x", "2", { ifHolds: { lock: "L", token } }))).toEqual([
      { kind: "error", code: "fence_failed" },
    ]);
    expect(text(m.read("x", T0)?.value)).toBe("1");
  });

  it("session expiry (by the log's master only) releases locks, drops waits and owned keys", () => {
    const m = new KvMachine();
    const notices: MachineNotice[] = [];
    m.onNotice = (n) => notices.push(n);
    const [a, b] = run(m, open(), open()).map(sessionOf) as [number, number];
    run(m, acquire("L", a), acquire("L", b), acquire("M", b));
    run(m, put("eph", "x", { session: a }), put("kept", "y", { session: a }), put("kept", "z"));
    const epoch = (run(m, master(1, 5))[0] as { epoch: number }).epoch;
    expect(run(m, expireSessions([a], epoch - 1))).toEqual([{ kind: "error", code: "not_master" }]);
    expect(m.session(a)).toEqual({ ttlMs: 5000 });
    notices.length = 0;
    expect(run(m, expireSessions([a, 999], epoch))).toEqual([
      { kind: "sessions_expired", sessions: [a] },
    ]);
    expect(m.session(a)).toBeUndefined();
    expect(m.read("eph", T0)).toBeUndefined();
    expect(text(m.read("kept", T0)?.value)).toBe("z"); // detached by the plain put
    expect(m.lock("L")?.holder?.session).toBe(b);
    const rev = m.currentRevision;
    expect(notices).toContainEqual({ kind: "granted", lock: "L", session: b, token: rev });
    expect(notices).toContainEqual({ kind: "session_ended", session: a, why: "expired" });
    expect(notices[0]).toMatchObject({ kind: "events", revision: rev });
    expect(run(m, put("k", "v", { session: a }))).toEqual([{ kind: "error", code: "no_session" }]);
    expect(run(m, acquire("L", a))).toEqual([{ kind: "error", code: "no_session" }]);
  });

  it("a retried acquire gets its first answer; bad TTLs are refused", () => {
    const m = new KvMachine();
    const s = sessionOf(run(m, open())[0]);
    const t = sessionOf(run(m, open())[0]);
    run(m, acquire("L", s));
    const ref = { id: "c", req: 1, low: 1 };
    expect(run(m, acquire("L", t, true, ref), acquire("L", t, true, ref))).toEqual([
      { kind: "queued" },
      { kind: "queued" },
    ]);
    expect(m.lock("L")?.waiting).toBe(1);
    run(m, enc({ op: "cancel_wait", lock: "L", session: t, atMs: T0 }));
    expect(m.lock("L")?.waiting).toBe(0);
    expect(run(m, open(0), open(2999), open(400 * 24 * 3600 * 1000))).toEqual([
      { kind: "error", code: "bad_ttl" },
      { kind: "error", code: "bad_ttl" },
      { kind: "error", code: "bad_ttl" },
    ]);
    expect(run(m, enc({ op: "session_close", session: 424242, atMs: T0 }))).toEqual([
      { kind: "error", code: "no_session" },
    ]);
    expect(run(m, enc({ op: "cancel_wait", lock: "L", session: 424242, atMs: T0 }))).toEqual([
      { kind: "error", code: "no_session" },
    ]);
  });
});

describe("watch history", () => {
  it("keeps events in revision order with previous values, and compacts whole revisions", () => {
    const m = new KvMachine({ history: { maxEvents: 4, maxBytes: 1 << 20 } });
    run(m, put("a", "1"), put("a", "2"), put("b", "3"), put("a", "4"), put("c", "5"));
    const page = m.eventsSince(2, (k) => k === "a", 100);
    expect(page).toEqual({
      events: [
        { revision: 2, kind: "put", key: "a", value: val("2"), prevValue: val("1") },
        { revision: 4, kind: "put", key: "a", value: val("4"), prevValue: val("2") },
      ],
      next: 6,
    });
    expect(m.eventsSince(1, () => true, 100)).toEqual({ compacted: 2 });
    const paged = m.eventsSince(2, () => true, 2);
    expect(paged).toMatchObject({ next: 4 });
  });

  it("snapshots carry sessions, locks, owners and history; restored machines go on alike", () => {
    const rng = new Prng(11);
    const a = new KvMachine();
    const cmds = randomCoordCommands(rng, 600);
    const cut = 300;
    cmds.slice(0, cut).forEach((c) => run(a, c));
    const b = new KvMachine();
    b.restore(a.snapshot(), a.lastSeq);
    expect(b.stateHash()).toBe(a.stateHash());
    const resultsA = cmds.slice(cut).map((c) => run(a, c)[0]);
    const resultsB = cmds.slice(cut).map((c) => run(b, c)[0]);
    expect(resultsB).toEqual(resultsA);
    expect(b.stateHash()).toBe(a.stateHash());
    expect(b.eventsSince(b.oldestRevision, () => true, 1e6)).toEqual(
      a.eventsSince(a.oldestRevision, () => true, 1e6),
    );
    const damaged = a.snapshot();
    const at = damaged.length - 40;
    damaged[at] = (damaged[at] ?? 0) ^ 1;
    expect(() => new KvMachine().restore(damaged, a.lastSeq)).toThrow(KvSnapshotError);
  });
});

/** Opens, acquires, releases, ephemeral puts, masters and expiries in a random mix, chosen while
 * applying them to a scratch machine so that sessions, tokens and epochs are mostly real ones. */
function randomCoordCommands(rng: Prng, n: number): Uint8Array[] {
  const scratch = new KvMachine();
  const out: Uint8Array[] = [];
  const pick = (k: number) => Math.floor(rng.next() * k);
  const sessions: number[] = [];
  const add = (c: Uint8Array) => {
    out.push(c);
    const r = run(scratch, c)[0];
    if (r?.kind === "session") sessions.push(r.session);
  };
  for (let i = 0; i < n; i++) {
    const session = sessions[pick(sessions.length)] ?? 1;
    const lock = `L${pick(3)}`;
    const r = pick(9);
    if (r === 0 || sessions.length < 3) add(open());
    else if (r === 1 || r === 8) add(acquire(lock, session, rng.next() < 0.7));
    else if (r === 2) add(release(lock, scratch.lock(lock)?.holder?.token ?? pick(i)));
    else if (r === 3) add(put(`k${pick(10)}`, `v${i}`, { session }));
    else if (r === 4) add(master(pick(3), i));
    else if (r === 5) add(expireSessions([session], scratch.master?.epoch ?? 0));
    else if (r === 6) add(enc({ op: "delete", key: `k${pick(10)}`, atMs: T0 }));
    else add(enc({ op: "cancel_wait", lock, session, atMs: T0 }));
  }
  return out;
}

describe("the random mix exercises what it claims to", () => {
  it("grants, hand-overs, expiries and ephemeral deletes all happen", () => {
    const m = new KvMachine();
    const kinds = new Map<string, number>();
    m.onNotice = (n) => kinds.set(n.kind, (kinds.get(n.kind) ?? 0) + 1);
    const results = randomCoordCommands(new Prng(11), 600).map((c) => run(m, c)[0]);
    const expired = results.filter((r) => r?.kind === "sessions_expired" && r.sessions.length);
    expect(expired.length).toBeGreaterThan(5);
    expect(kinds.get("granted")).toBeGreaterThan(20);
    expect(kinds.get("released")).toBeGreaterThan(10);
    expect(kinds.get("events")).toBeGreaterThan(50);
  });
});
