// The Bayou master program's semantics (bayou-spec.md), over a port that starts processes and
// carries the master's commands to them: OS processes for `yasp-bayou`, simulated nodes for the
// simulator. Script ids share one namespace; the processes get node numbers (their network
// addresses) from the master. A command naming an unknown, retired or dead id is ignored.
//
// The choices the spec leaves open (the same as the in-process reference runner's):
// - A new server is created by the primary if it is live, else by the first live server in join
//   order; it is linked to every server.
// - retireServer hands off to the first live server (join order) linked to it; with none it
//   cannot complete and is ignored.
// - stabilize runs rounds: each live server in join order runs one anti-entropy session with
//   every server it is linked to (all at once); it returns after a round in which no session
//   moved anything and no server's log changed. While paused it returns at once.
// - A restored link is used before the next command (unless paused): between two servers,
//   sessions both ways until a pass moves nothing (so the primary's commits of the other's writes
//   come back); a client's new server gets a session from each server linked to it (join order).
//   A retirement's receiver runs a round after the hand-off, and `start` after a pause runs one
//   round of every server. All of this (sessions.ts) also runs without background gossip
//   (--no-gossip), so those runs stay reproducible. Background gossip is the servers' own.
// - A client cut from its server (or whose server is gone) cannot be answered: its command is
//   skipped, with a note under --verbose.
import type { Command, Id } from "../script.js";
import type { Control, Reply } from "../node/control.js";
import { SessionDriver } from "./sessions.js";

export interface NodeHandle {
  /** The node number: its address on the network. */
  readonly node: number;
  /** Where other processes reach it (a TCP port; "" in the simulator). */
  readonly addr: string;
  readonly alive: boolean;
  /** The OS process id, when it is one. */
  readonly pid?: number;
  call(ctl: Control): Promise<Reply>;
  stop(): Promise<void>;
}

export interface ClusterPort {
  start(kind: "server" | "client", node: number): Promise<NodeHandle>;
}

export interface MasterOutput {
  /** One line of the spec's output (stdout). */
  line(text: string): void;
  /** Something the user must hear about (stderr): a dead process, a failed command. */
  warn(text: string): void;
  /** Diagnostics (stderr under --verbose). */
  note(text: string): void;
}

interface ServerEntry {
  h: NodeHandle;
}

interface ClientEntry {
  h: NodeHandle;
  server: Id;
}

export class BayouMaster {
  private readonly servers = new Map<Id, ServerEntry>();
  private readonly clients = new Map<Id, ClientEntry>();
  /** Retired or dead ids: never reused. */
  private readonly gone = new Set<Id>();
  private readonly cut = new Set<string>();
  private primary: Id | null = null;
  private paused = false;
  private nextNode = 0;
  private readonly ae: SessionDriver;

  constructor(
    private readonly cluster: ClusterPort,
    private readonly out: MasterOutput,
  ) {
    this.ae = new SessionDriver(out);
  }

  async apply(c: Command): Promise<void> {
    await this.sweepDead();
    switch (c.kind) {
      case "joinServer":
        return this.joinServer(c.id);
      case "retireServer":
        return this.retireServer(c.id);
      case "joinClient":
        return this.joinClient(c.client, c.server);
      case "breakConnection":
        return this.link(c.a, c.b, false);
      case "restoreConnection":
        return this.link(c.a, c.b, true);
      case "pause":
      case "start": {
        const resumed = c.kind === "start" && this.paused;
        this.paused = c.kind === "pause";
        await this.all([...this.servers.values()].map((s) => s.h.call({ c: c.kind })));
        if (resumed) await this.ae.round(this.liveServers());
        return;
      }
      case "stabilize":
        if (this.paused) return this.out.note("stabilize: paused, nothing moves");
        return this.ae.stabilize(async () => {
          await this.sweepDead();
          return this.liveServers();
        });
      case "printLog":
        return this.printLog(c.id);
      case "put":
        return this.write(c.client, { c: "put", song: c.song, url: c.url });
      case "delete":
        return this.write(c.client, { c: "delete", song: c.song });
      case "get":
        return this.get(c.client, c.song);
    }
  }

  /** Live servers' ids in join order. */
  liveServerIds(): Id[] {
    return [...this.servers.keys()];
  }

  /** Live servers' handles in join order (for checks). */
  liveServers(): NodeHandle[] {
    return [...this.servers.values()].map((s) => s.h);
  }

  /** For checks: a live server's handle. */
  serverHandle(id: Id): NodeHandle | undefined {
    return this.servers.get(id)?.h;
  }

  /** For checks: the live servers linked to this one, in join order. */
  linkedServers(id: Id): Id[] {
    return [...this.servers.keys()].filter((s) => s !== id && this.linked(s, id));
  }

  /** For checks: the server a client talks to. */
  serverOf(cid: Id): Id | undefined {
    return this.clients.get(cid)?.server;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Stops every process this master started. */
  async stopAll(): Promise<void> {
    const all = [...this.servers.values(), ...this.clients.values()].map((e) => e.h.stop());
    await Promise.allSettled(all);
  }

  private taken(id: Id): boolean {
    return this.servers.has(id) || this.clients.has(id) || this.gone.has(id);
  }

  private static pair(a: Id, b: Id): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  private linked(a: Id, b: Id): boolean {
    return !this.cut.has(BayouMaster.pair(a, b));
  }

  /** A process that died: said once on stderr, and forgotten (its id is never reused). */
  private async sweepDead(): Promise<void> {
    let lost = false;
    for (const [id, s] of [...this.servers]) {
      if (s.h.alive) continue;
      this.out.warn(`server ${id} died; continuing without it`);
      this.servers.delete(id);
      this.gone.add(id);
      if (this.primary === id) this.primary = null;
      lost = true;
    }
    for (const [id, c] of [...this.clients]) {
      if (c.h.alive) continue;
      this.out.warn(`client ${id} died; continuing without it`);
      this.clients.delete(id);
      this.gone.add(id);
    }
    if (lost) await this.sendPeers();
  }

  private async start(kind: "server" | "client", id: Id): Promise<NodeHandle | null> {
    try {
      const h = await this.cluster.start(kind, this.nextNode++);
      this.out.note(
        `${kind} ${id} is node ${h.node}${h.pid !== undefined ? `, pid ${h.pid}` : ""}`,
      );
      return h;
    } catch (e) {
      this.out.warn(`could not start ${kind} ${id}: ${(e as Error).message}`);
      return null;
    }
  }

  private peerTable(): [number, string][] {
    return [...this.servers.values()].map((s): [number, string] => [s.h.node, s.h.addr]);
  }

  private sendPeers(): Promise<void> {
    const ctl: Control = { c: "peers", peers: this.peerTable() };
    const all = [...this.servers.values(), ...this.clients.values()];
    return this.all(all.map((e) => e.h.call(ctl)));
  }

  private async joinServer(id: Id): Promise<void> {
    if (this.taken(id)) return this.out.note(`joinServer ${id}: id is taken`);
    const live = [...this.servers.keys()];
    const creator =
      this.primary !== null && this.servers.has(this.primary) ? this.primary : live[0];
    const h = await this.start("server", id);
    if (h === null) return;
    this.servers.set(id, { h });
    await this.sendPeers();
    if (this.paused) await this.expect(h.call({ c: "pause" }), `pause ${id}`);
    if (creator === undefined) {
      this.primary = id;
      return this.expect(h.call({ c: "root" }), `joinServer ${id}`);
    }
    const c = this.servers.get(creator)!;
    const r = await h.call({ c: "join", creator: c.h.node });
    if (r.ok) return;
    this.out.warn(`joinServer ${id}: ${r.error}`);
    this.servers.delete(id);
    this.gone.add(id);
    await h.stop();
    await this.sendPeers();
  }

  private async retireServer(id: Id): Promise<void> {
    const s = this.servers.get(id);
    if (s === undefined) return this.out.note(`retireServer ${id}: no live server`);
    const target = [...this.servers.keys()].find((t) => t !== id && this.linked(t, id));
    if (target === undefined) return this.out.note(`retireServer ${id}: no linked server`);
    const to = this.servers.get(target)!;
    const r = await s.h.call({ c: "retire", to: to.h.node });
    if (!r.ok) this.out.warn(`retireServer ${id}: ${r.error}`);
    if (this.primary === id) this.primary = target;
    this.servers.delete(id);
    this.gone.add(id);
    await s.h.stop();
    await this.sendPeers();
    // What the receiver took over goes on to its linked servers before the next command.
    if (r.ok && !this.paused) await this.ae.sessions(to.h);
  }

  private async joinClient(cid: Id, sid: Id): Promise<void> {
    if (this.taken(cid)) return this.out.note(`joinClient ${cid}: id is taken`);
    const s = this.servers.get(sid);
    if (s === undefined) return this.out.note(`joinClient ${cid}: no live server ${sid}`);
    const h = await this.start("client", cid);
    if (h === null) return;
    this.clients.set(cid, { h, server: sid });
    await this.expect(h.call({ c: "peers", peers: this.peerTable() }), `joinClient ${cid}`);
    await this.expect(h.call({ c: "attach", server: s.h.node }), `joinClient ${cid}`);
  }

  /** Cuts or restores a server–server or client–server link at both ends. */
  private async link(a: Id, b: Id, up: boolean): Promise<void> {
    const what = up ? "restoreConnection" : "breakConnection";
    const ok = (x: Id, y: Id) =>
      this.servers.has(x) && (this.servers.has(y) || this.clients.has(y));
    if (a === b || !(ok(a, b) || ok(b, a))) return this.out.note(`${what} ${a} ${b}: ignored`);
    const ha = (this.servers.get(a) ?? this.clients.get(a))!.h;
    const hb = (this.servers.get(b) ?? this.clients.get(b))!.h;
    if (up) this.cut.delete(BayouMaster.pair(a, b));
    else this.cut.add(BayouMaster.pair(a, b));
    const client = this.clients.get(a) ?? this.clients.get(b);
    if (up && client !== undefined) client.server = this.clients.has(a) ? b : a;
    await this.all([
      ha.call({ c: "link", peer: hb.node, up }),
      hb.call({ c: "link", peer: ha.node, up }),
    ]);
    if (!up || this.paused) return;
    if (client === undefined) return this.ae.reconcile(ha, hb, `${what} ${a} ${b}`);
    const to = this.servers.get(client.server)!.h;
    const from = this.linkedServers(client.server).map((id) => this.servers.get(id)!.h);
    await this.ae.catchUp(to, from);
  }

  private async printLog(id: Id): Promise<void> {
    const s = this.servers.get(id);
    if (s === undefined) return this.out.note(`printLog ${id}: no live server`);
    const r = await s.h.call({ c: "printLog" });
    if (!r.ok) return this.out.warn(`printLog ${id}: ${r.error}`);
    if ("lines" in r) for (const l of r.lines ?? []) this.out.line(l);
  }

  /** The client, when it can reach its server; else null (with a note). */
  private reach(cid: Id, what: string): ClientEntry | null {
    const c = this.clients.get(cid);
    if (c === undefined) this.out.note(`${what}: no client ${cid}`);
    else if (!this.servers.has(c.server) || !this.linked(cid, c.server)) {
      this.out.note(`${what}: client ${cid} cannot reach server ${c.server}; skipped`);
    } else return c;
    return null;
  }

  private async write(cid: Id, ctl: Control & { c: "put" | "delete" }): Promise<void> {
    const c = this.reach(cid, ctl.c);
    if (c === null) return;
    const r = await c.h.call(ctl);
    if (!r.ok) return this.out.warn(`${ctl.c} ${cid}: ${r.error}`);
    if ("outcome" in r && r.outcome !== "written")
      this.out.note(`${ctl.c} ${cid} ${ctl.song}: ${r.outcome ?? "?"} at server ${c.server}`);
  }

  private async get(cid: Id, song: string): Promise<void> {
    const c = this.reach(cid, "get");
    if (c === null) return;
    const r = await c.h.call({ c: "get", song });
    if (!r.ok) return this.out.warn(`get ${cid}: ${r.error}`);
    if ("lines" in r && r.lines !== undefined) for (const l of r.lines) this.out.line(l);
    else this.out.note(`get ${cid} ${song}: ${"outcome" in r ? (r.outcome ?? "?") : "?"}`);
  }

  private async expect(p: Promise<Reply>, what: string): Promise<void> {
    const r = await p;
    if (!r.ok) this.out.warn(`${what}: ${r.error}`);
  }

  private async all(ps: Promise<Reply>[]): Promise<void> {
    for (const r of await Promise.all(ps)) if (!r.ok) this.out.warn(r.error);
  }
}
