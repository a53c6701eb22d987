import { describe, expect, it } from "vitest";
import type { Clock } from "../ports.js";
import { encodeCommand, type KvCommand, type KvResult } from "./commands.js";
import { CoordService, type LeaseView, type MasterView } from "./coord_service.js";
import { LockWaiters } from "./coord_service_locks.js";
import { KvMachine } from "./kv_machine.js";
import type { KvWrite } from "./service.js";

const T0 = 1_700_000_000_000;

/** A clock moved by hand; timers run when it passes them. */
class ManualClock implements Clock {
  us = T0 * 1000;
  private timers: { at: number; fn: () => void }[] = [];
  nowUs(): number {
    return this.us;
  }
  after(ms: number, fn: () => void): () => void {
    const t = { at: this.us + ms * 1000, fn };
    this.timers.push(t);
    return () => (this.timers = this.timers.filter((x) => x !== t));
  }
  yieldNow(): Promise<void> {
    return Promise.resolve();
  }
  async advance(ms: number): Promise<void> {
    const end = this.us + ms * 1000;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.us = Math.max(this.us, due.at);
      due.fn();
      await flush();
    }
    this.us = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A lease whose view the test sets. */
class FakeLease implements MasterView {
  v: LeaseView = { iAmMaster: false, master: null, term: 0 };
  private cbs: ((v: LeaseView) => void)[] = [];
  view(): LeaseView {
    return this.v;
  }
  onChange(cb: (v: LeaseView) => void): void {
    this.cbs.push(cb);
  }
  set(v: LeaseView): void {
    this.v = v;
    for (const cb of this.cbs) cb(v);
  }
}

/** The service as CoordService uses it: writes applied at once to a real machine. */
function setup(me: number, lease?: FakeLease) {
  const machine = new KvMachine();
  const clock = new ManualClock();
  const written: KvWrite[] = [];
  const apply = (w: KvWrite): KvResult => {
    written.push(w);
    const cmd = { ...w, atMs: Math.floor(clock.nowUs() / 1000) } as KvCommand;
    return machine.apply(machine.lastSeq + 1, encodeCommand(cmd));
  };
  const service = {
    opts: { me, maxValueBytes: 1 << 20, ...(lease ? { lease } : {}) },
    machine,
    write: (w: KvWrite) => Promise.resolve(apply(w)),
    barrier: () => Promise.resolve(),
  };
  const coord = new CoordService(service, clock);
  machine.onNotice = (n) => {
    if (n.kind !== "events") coord.onNotice(n);
  };
  const client = (req: number) => ({ id: "c", req, low: req });
  const open = (ttlMs: number, req: number): number => {
    const r = apply({ op: "session_open", ttlMs, client: client(req) });
    if (r.kind !== "session") throw new Error(`no session: ${JSON.stringify(r)}`);
    return r.session;
  };
  return { machine, clock, coord, written, apply, open, client };
}

describe("CoordService: the master and sessions", () => {
  it("without a lease, rank 0 claims the master entry, answers keepalives and expires sessions past their TTL", async () => {
    const { machine, clock, coord, open } = setup(0);
    const s = open(3000, 1);
    coord.start();
    await flush();
    expect(coord.isActive).toBe(true);
    expect(coord.masterInfo()).toEqual({ rank: 0, epoch: machine.master?.epoch });
    await clock.advance(2700);
    expect(await coord.keepalive(s)).toEqual({ ttlMs: 3000 });
    await clock.advance(2700); // 5400 ms after the open, 2700 after the keepalive
    expect(machine.session(s)).toBeDefined();
    await clock.advance(400);
    expect(machine.session(s)).toBeUndefined();
    expect(await coord.keepalive(s)).toEqual({ error: "no_session" });
    coord.stop();
  });

  it("another rank refuses keepalives with the master's rank", async () => {
    const lead = setup(0);
    lead.coord.start();
    await flush();
    const { coord, apply, open } = setup(1);
    apply({ op: "master", rank: 0, term: 7 });
    const s = open(5000, 1);
    coord.start();
    expect(await coord.keepalive(s)).toEqual({ error: "not_master", master: 0 });
    expect(coord.masterInfo()).toMatchObject({ rank: 0 });
    coord.stop();
    lead.coord.stop();
  });

  it("a new master restarts every TTL when its entry is applied, and steps down when fenced or when the lease goes", async () => {
    const lease = new FakeLease();
    const { machine, clock, coord, apply, open, written } = setup(2, lease);
    apply({ op: "master", rank: 0, term: 3 }); // the old master
    const s = open(3000, 1);
    coord.start();
    await clock.advance(10_000); // not master: nothing expires however long
    expect(machine.session(s)).toBeDefined();
    expect(await coord.keepalive(s)).toMatchObject({ error: "not_master" });
    lease.set({ iAmMaster: true, master: 2, term: 9 });
    await flush();
    expect(machine.master).toMatchObject({ rank: 2, term: 9 });
    expect(coord.isActive).toBe(true);
    await clock.advance(2900);
    expect(machine.session(s)).toBeDefined(); // its TTL restarted at the takeover
    await clock.advance(300);
    expect(machine.session(s)).toBeUndefined();
    const expiry = written.find((w) => w.op === "session_expire");
    expect(expiry).toMatchObject({ sessions: [s], epoch: machine.master?.epoch });
    // A later master entry of another rank fences this one's expiries: while it still holds the
    // lease it keeps answering keepalives and claims the log again.
    const s2 = open(3000, 2);
    const mineClaims = () => written.filter((w) => w.op === "master" && w.rank === 2).length;
    const claims = mineClaims();
    apply({ op: "master", rank: 1, term: 4 });
    expect(coord.isActive).toBe(true);
    await clock.advance(100);
    expect(mineClaims()).toBe(claims + 1);
    apply({ op: "master", rank: 1, term: 5 }); // and fenced again before its claim lands
    lease.set({ iAmMaster: false, master: 1, term: 5 });
    await flush();
    expect(coord.isActive).toBe(false);
    await clock.advance(9000);
    expect(machine.session(s2)).toBeDefined();
    expect(await coord.keepalive(s2)).toEqual({ error: "not_master", master: 1 });
    coord.stop();
  });
});

describe("CoordService: a master whose log entry is slow", () => {
  it("answers keepalives from the lease on, and expires nothing until its entry is applied", async () => {
    const lease = new FakeLease();
    const { machine, clock, coord, open, written } = setup(1, lease);
    const s = open(3000, 1);
    const service = coord as unknown as { service: { write: (w: KvWrite) => Promise<KvResult> } };
    let release: (() => void) | null = null;
    const stalled = new Promise<void>((r) => (release = r));
    const write = service.service.write;
    service.service.write = (w) => stalled.then(() => write(w)); // the log takes its time
    coord.start();
    lease.set({ iAmMaster: true, master: 1, term: 7 });
    await flush();
    expect(await coord.keepalive(s)).toEqual({ ttlMs: 3000 });
    await clock.advance(10_000); // far past the TTL without keepalives
    expect(machine.session(s)).toBeDefined();
    expect(written.some((w) => w.op === "session_expire")).toBe(false);
    (release as (() => void) | null)?.();
    await clock.advance(200); // the entry lands: expiries resume
    expect(machine.master).toMatchObject({ rank: 1, term: 7 });
    expect(machine.session(s)).toBeUndefined();
    coord.stop();
  });
});

describe("CoordService: waiting acquires", () => {
  it("answers a waiting acquire with its grant, and a resent one from the lock's holder", async () => {
    const { coord, apply, open, client } = setup(0);
    const a = open(5000, 1);
    const b = open(5000, 2);
    const first = await coord.acquire({ lock: "L", session: a, wait: true, client: client(3) });
    expect(first.kind).toBe("granted");
    let answered: KvResult | undefined;
    const waiting = { lock: "L", session: b, wait: true, client: client(4) };
    void coord.acquire(waiting).then((r) => (answered = r));
    await flush();
    expect(answered).toBeUndefined();
    const token = first.kind === "granted" ? first.token : 0;
    apply({ op: "release", lock: "L", token });
    await flush();
    expect(answered).toMatchObject({ kind: "granted" });
    const t2 = answered?.kind === "granted" ? answered.token : 0;
    expect(t2).toBeGreaterThan(token);
    // The same request again (a lost reply): answered queued from the client table, then
    // granted from the holder, never a second grant.
    expect(await coord.acquire(waiting)).toEqual({ kind: "granted", token: t2 });
    expect(coord.waiters.size).toBe(0);
  });

  it("drops the waiter of a closed connection, answers no_session when the session ends", async () => {
    const { coord, apply, open, client, machine } = setup(0);
    const a = open(5000, 1);
    const b = open(5000, 2);
    await coord.acquire({ lock: "L", session: a, wait: false, client: client(3) });
    const closed = new AbortController();
    void coord.acquire({ lock: "L", session: b, wait: true, client: client(4) }, closed.signal);
    await flush();
    expect(coord.waiters.size).toBe(1);
    closed.abort();
    expect(coord.waiters.size).toBe(0);
    let answered: KvResult | undefined;
    void coord
      .acquire({ lock: "L", session: b, wait: true, client: client(5) })
      .then((r) => (answered = r));
    await flush();
    apply({ op: "session_close", session: b, client: client(6) });
    await flush();
    expect(answered).toEqual({ kind: "error", code: "no_session" });
    expect(machine.lock("L")?.waiting).toBe(0);
  });

  it("cancel_wait answers granted when the grant came first", async () => {
    const { coord, open, client } = setup(0);
    const a = open(5000, 1);
    const got = await coord.acquire({ lock: "L", session: a, wait: false, client: client(2) });
    const c = await coord.cancelWait({ lock: "L", session: a, client: client(3) });
    expect(c).toEqual(got);
    const b = open(5000, 4);
    expect(await coord.cancelWait({ lock: "L", session: b, client: client(5) })).toEqual({
      kind: "cancelled",
    });
  });

  it("refuses waiters past the bound with limit", async () => {
    const w = new LockWaiters(2);
    void w.wait("L", 1);
    void w.wait("L", 2);
    expect(await w.wait("L", 3)).toEqual({ kind: "error", code: "limit" });
    w.sessionEnded(1);
    expect(w.size).toBe(1);
  });
});
