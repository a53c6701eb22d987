// A pure multi-server Bayou for tests: ServerCores addressed by the master's ids, links that can
// be cut, anti-entropy sessions in a seeded random order, clients with session vectors. No
// processes or timers: what the master program will do, reduced to function calls.
import { expect } from "vitest";
import { ServerCore, type AntiEntropyRequest } from "./server_core.js";
import { ClientSession } from "./session.js";

interface Client {
  session: ClientSession;
  server: string;
}

export class BayouNet {
  readonly servers = new Map<string, ServerCore>();
  private readonly clients = new Map<string, Client>();
  private readonly cut = new Set<string>();
  /** "a -> b" → a's holdings that b was once seen to have all of. */
  private readonly coveredOnce = new Map<string, AntiEntropyRequest>();
  private seed: number;
  sessions = 0;

  constructor(seed = 1) {
    this.seed = seed;
  }

  rnd(n: number): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2 ** 31;
    return this.seed % n;
  }

  core(id: string): ServerCore {
    const s = this.servers.get(id);
    if (s === undefined) throw new Error(`no server ${id}`);
    return s;
  }

  linked(a: string, b: string): boolean {
    return !this.cut.has(a < b ? `${a}|${b}` : `${b}|${a}`);
  }

  breakLink(a: string, b: string): void {
    this.cut.add(a < b ? `${a}|${b}` : `${b}|${a}`);
  }

  restoreLink(a: string, b: string): void {
    this.cut.delete(a < b ? `${a}|${b}` : `${b}|${a}`);
    const c = this.clients.get(a) ?? this.clients.get(b);
    if (c !== undefined) c.server = this.clients.has(a) ? b : a;
  }

  /** The first server is the root; later ones are created by the first live linked server. */
  joinServer(id: string): void {
    if (this.servers.size === 0) {
      this.servers.set(id, ServerCore.root());
      return;
    }
    const [, creator] = [...this.servers].find(([cid]) => this.linked(cid, id)) ?? [];
    if (creator === undefined) throw new Error(`no server can create ${id}`);
    const name = creator.createServer();
    this.servers.set(id, ServerCore.join(name, creator.antiEntropyFor(ServerCore.joinRequest())));
  }

  /** Retires a server by one last anti-entropy to a linked server (it takes the primary role). */
  retireServer(id: string, to?: string): string {
    const s = this.core(id);
    const target = to ?? [...this.servers.keys()].find((t) => t !== id && this.linked(t, id)) ?? "";
    const r = this.core(target);
    r.receive(s.retireTo(r.antiEntropyRequest()));
    this.servers.delete(id);
    this.checkInvariants();
    return target;
  }

  joinClient(cid: string, sid: string): void {
    this.clients.set(cid, { session: new ClientSession(), server: sid });
  }

  private client(cid: string): { c: Client; s: ServerCore } {
    const c = this.clients.get(cid);
    if (c === undefined) throw new Error(`no client ${cid}`);
    return { c, s: this.core(c.server) };
  }

  put(cid: string, song: string, url: string): boolean {
    const { c, s } = this.client(cid);
    const r = s.clientWrite({ kind: "put", song, url }, c.session.deps());
    c.session.afterWrite(r);
    return r.accepted;
  }

  delete(cid: string, song: string): boolean {
    const { c, s } = this.client(cid);
    const r = s.clientWrite({ kind: "delete", song }, c.session.deps());
    c.session.afterWrite(r);
    return r.accepted;
  }

  /** The master's output line for a get (a client cut from its server is not exercised here). */
  get(cid: string, song: string): string {
    const { c, s } = this.client(cid);
    const r = s.read(song, c.session.deps());
    c.session.afterRead(r);
    if (r.kind === "err_dep") return `${song}:ERR_DEP`;
    return r.kind === "err_key" ? `${song}:ERR_KEY` : `${song}:${r.url}`;
  }

  /** One anti-entropy session from a to b. */
  session(a: string, b: string): void {
    const r = this.core(b);
    r.receive(this.core(a).antiEntropyFor(r.antiEntropyRequest()));
    this.sessions += 1;
    this.checkInvariants();
  }

  /** Random sessions over linked pairs. */
  gossip(rounds: number): void {
    const ids = [...this.servers.keys()];
    for (let i = 0; i < rounds; i += 1) {
      const a = ids[this.rnd(ids.length)]!;
      const b = ids[this.rnd(ids.length)]!;
      if (a !== b && this.linked(a, b)) this.session(a, b);
    }
  }

  /** Sessions in random order until no linked session would move anything (quiescence). */
  stabilize(): void {
    for (;;) {
      const ids = [...this.servers.keys()];
      const pairs = ids.flatMap((a) => ids.map((b) => [a, b] as const));
      const moving = pairs.filter(
        ([a, b]) =>
          a !== b && this.linked(a, b) && this.core(a).wouldMove(this.core(b).antiEntropyRequest()),
      );
      if (moving.length === 0) return;
      const [a, b] = moving[this.rnd(moving.length)]!;
      this.session(a, b);
    }
  }

  printLog(id: string): string[] {
    return this.core(id).printLog();
  }

  /** Every stable log is a prefix of the longest; every DB equals its log's replay. */
  checkInvariants(): void {
    const ids = (s: ServerCore) => s.stableWrites().map((w) => `${w.stamp}@${w.server}`);
    const logs = [...this.servers.values()].map(ids);
    const longest = logs.reduce((x, y) => (y.length > x.length ? y : x), []);
    for (const l of logs) expect(l).toEqual(longest.slice(0, l.length));
    for (const s of this.servers.values()) expect(new Map(s.db())).toEqual(s.replayDb());
    expect([...this.servers.values()].filter((s) => s.isPrimary).length).toBeLessThanOrEqual(1);
    // The shortcuts a receiver takes (nothing to do for that sender; that sender has all of
    // mine) are never wrong, and what a receiver once had all of it keeps having (gossip skips
    // a peer that had all of this log while the log has not changed).
    for (const [ia, a] of this.servers)
      for (const [ib, b] of this.servers) {
        if (ia === ib) continue;
        const pair = `${ia} -> ${ib}`;
        const once = this.coveredOnce.get(pair);
        if (once !== undefined) expect(b.hasAllOf(once), `${pair} lost`).toBe(true);
        if (a.coveredBy(b.holdings()))
          expect(a.wouldMove(b.antiEntropyRequest()), `${pair} covered`).toBe(false);
        if (!b.hasAllOf(a.holdings())) continue;
        expect(a.wouldMove(b.antiEntropyRequest()), pair).toBe(false);
        this.coveredOnce.set(pair, a.holdings());
      }
  }
}
