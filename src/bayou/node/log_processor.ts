// The write-log processor of a Bayou server: the only owner of its ServerCore. Every read, write,
// anti-entropy step and query passes through its inbox one at a time, so the core never sees two
// things at once. Before the server has joined, and after it retired, it answers nothing.
import { ServerCore, type AntiEntropyBatch, type AntiEntropyRequest } from "../server_core.js";
import { VersionVector } from "../vectors.js";
import type { Op } from "../write_log.js";
import type { SenderInput } from "./ae_sender.js";
import type { Reply } from "./control.js";
import { batchToWire, MAX_BATCH_ITEMS, type PeerMsg } from "./messages.js";

type ClientFrame = Extract<PeerMsg, { t: "c_write" | "c_read" }>;

export type LogOp =
  | { k: "client"; m: ClientFrame }
  | { k: "open"; sid: number; to: number; retire: boolean }
  | { k: "vector"; sid: number; to: number; have: AntiEntropyRequest; retire: boolean }
  | { k: "apply"; sid: number; from: number; batch: AntiEntropyBatch; retire: boolean }
  /** The master's pause/start: while paused only a retirement's hand-off moves writes. Answered
   * once every operation queued before it is done, so nothing sent earlier lands after it. */
  | { k: "pause"; on: boolean; resolve: (r: Reply) => void }
  | { k: "batch_for"; sid: number; req: AntiEntropyRequest; retire: boolean }
  | { k: "create"; to: number }
  | { k: "join"; name: string; batch: AntiEntropyBatch; done: (ok: boolean) => void }
  | { k: "query"; what: "printLog" | "state"; resolve: (r: Reply) => void };

export interface LogDeps {
  send(to: number, msg: PeerMsg): void;
  toSender(input: SenderInput): void;
  /** The receiver's session with this peer ended here (nothing to do): free the receiver. */
  release(peer: number, sid: number): void;
  note(msg: string): void;
}

export class LogProcessor {
  private core: ServerCore | null = null;
  /** The name made for each joining node: a repeated join request gets the same one. */
  private readonly created = new Map<number, string>();
  /** Bumped by everything that may change the log: a stabilize with background gossip is quiet
   * only when a whole round leaves every server's count where it was. */
  changes = 0;
  /** Anti-entropy is paused: sessions other than a retirement's are refused. */
  private paused = false;
  /** What each peer said it held when it last opened a session here (one entry per server). */
  private readonly openerHeld = new Map<number, AntiEntropyRequest>();
  /** holdings() as of `changes` (a round's fan-out opens many sessions from one state). */
  private held: { at: number; have: AntiEntropyRequest } | null = null;

  constructor(
    private readonly me: number,
    private readonly d: LogDeps,
  ) {}

  /** Joined and not retired. */
  get live(): boolean {
    return this.core !== null && !this.core.isRetired;
  }

  become(core: ServerCore): void {
    this.core = core;
    this.changed();
  }

  step(op: LogOp): void {
    if (op.k === "join") return this.join(op);
    if (op.k === "query") return op.resolve(this.query(op.what));
    if (op.k === "pause") {
      this.paused = op.on;
      return op.resolve({ ok: true });
    }
    const core = this.core;
    if (core === null || core.isRetired) return this.notLive(op);
    switch (op.k) {
      case "client":
        return this.client(core, op.m);
      case "open":
        return this.d.send(op.to, {
          t: "ae_open",
          from: this.me,
          sid: op.sid,
          have: this.holdings(core),
          retire: op.retire,
        });
      case "vector": {
        if (this.paused && !op.retire) return this.refuse(op.to, op.sid);
        // Most sessions of a stabilize find nothing to do: say so at once, in one frame.
        const nothing = !op.retire && core.hasAllOf(op.have);
        if (nothing) this.d.release(op.to, op.sid);
        this.openerHeld.set(op.to, op.have);
        this.coverIfHeld(core, op.to);
        const req = nothing ? null : core.antiEntropyRequest();
        return this.d.send(op.to, { t: "ae_vector", from: this.me, sid: op.sid, req, busy: false });
      }
      case "apply":
        if (this.paused && !op.retire)
          return this.d.note(`server ${this.me}: paused, batch dropped`);
        if (op.batch.full !== null || op.batch.items.length > 0 || op.batch.handoffPrimary)
          this.changed();
        core.receive(op.batch);
        this.coverIfHeld(core, op.from);
        return this.d.send(op.from, { t: "ae_done", from: this.me, sid: op.sid });
      case "batch_for": {
        const all = op.retire ? core.retireTo(op.req) : core.antiEntropyFor(op.req);
        const batch = capped(all);
        return this.d.toSender({ k: "batch", sid: op.sid, batch, whole: batch === all });
      }
      case "create": {
        this.changed();
        const name = this.created.get(op.to) ?? core.createServer();
        this.created.set(op.to, name);
        const batch = batchToWire(core.antiEntropyFor(ServerCore.joinRequest()));
        return this.d.send(op.to, { t: "join_ok", from: this.me, name, batch });
      }
    }
  }

  /** The log (or its primary role) may have changed: count it, and wake the sender (it may now
   * have something to gossip). */
  private changed(): void {
    this.changes += 1;
    this.d.toSender({ k: "changed" });
  }

  /** A session opened here that cannot run now: the sender hears "busy" at once (the receiver is
   * freed; a round asks again), rather than waiting out the session. */
  private refuse(to: number, sid: number): void {
    this.d.release(to, sid);
    this.d.send(to, { t: "ae_vector", from: this.me, sid, req: null, busy: true });
  }

  /** Before joining or after retiring: sessions are refused. */
  private notLive(op: Exclude<LogOp, { k: "join" | "query" | "pause" }>): void {
    if (op.k === "vector") this.refuse(op.to, op.sid);
    else if (op.k === "batch_for")
      this.d.note(`server ${this.me}: retired, no batch for ${op.sid}`);
  }

  /** When a peer's last opening holdings cover this log, this server's gossip and rounds can
   * skip that peer until the log changes (after applying its batch, this log usually is what
   * that peer held). */
  private coverIfHeld(core: ServerCore, peer: number): void {
    const have = this.openerHeld.get(peer);
    if (have !== undefined && core.coveredBy(have))
      this.d.toSender({ k: "covered", peer, at: this.changes });
  }

  private holdings(core: ServerCore): AntiEntropyRequest {
    if (this.held === null || this.held.at !== this.changes) {
      this.held = { at: this.changes, have: core.holdings() };
    }
    return this.held.have;
  }

  private join(op: Extract<LogOp, { k: "join" }>): void {
    if (this.core !== null) return op.done(false);
    try {
      this.core = ServerCore.join(op.name, op.batch);
      this.changed();
      op.done(true);
    } catch (e) {
      this.d.note(`server ${this.me}: join failed: ${(e as Error).message}`);
      op.done(false);
    }
  }

  private client(core: ServerCore, m: ClientFrame): void {
    const deps = new VersionVector(m.deps);
    if (m.t === "c_write") {
      const r = core.clientWrite(m.op, deps);
      if (r.accepted) this.changed();
      const write = r.accepted ? { server: r.write.server, stamp: r.write.stamp } : null;
      return this.d.send(m.from, { t: "c_written", from: this.me, req: m.req, write });
    }
    const r = core.read(m.song, deps);
    const result =
      r.kind === "err_dep"
        ? r
        : r.kind === "value"
          ? { kind: r.kind, url: r.url, relevant: r.relevant.entries() }
          : { kind: r.kind, relevant: r.relevant.entries() };
    this.d.send(m.from, { t: "c_read_ok", from: this.me, req: m.req, result });
  }

  private query(what: "printLog" | "state"): Reply {
    const core = this.core;
    if (core === null) return { ok: false, error: "not joined" };
    if (what === "printLog") return { ok: true, lines: core.printLog() };
    const writes = core.writes().map((w) => ({
      server: w.server,
      stamp: w.stamp,
      csn: w.csn,
      op: opText(w.op),
    }));
    const db = [...core.db()];
    const replay = core.replayDb();
    const consistent = db.length === replay.size && db.every(([k, v]) => replay.get(k) === v);
    return {
      ok: true,
      state: { name: core.name, primary: core.isPrimary, writes, db, consistent },
    };
  }
}

/** A write's operation as the state query shows it ("put k v", "delete k", "create", "retire"). */
function opText(op: Op): string {
  if (op.kind === "put") return `put ${op.song} ${op.url}`;
  return op.kind === "delete" ? `delete ${op.song}` : op.kind;
}

/** A batch longer than a frame may carry is sent as its prefix; the next session sends the rest. */
function capped(b: AntiEntropyBatch): AntiEntropyBatch {
  if (b.items.length <= MAX_BATCH_ITEMS) return b;
  return { ...b, items: b.items.slice(0, MAX_BATCH_ITEMS) };
}
