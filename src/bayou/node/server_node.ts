// One Bayou server process as four CSP processors joined by channels (timed reads, nonblocking
// writes): client requests, the anti-entropy sender, the anti-entropy receiver, and the write log,
// which alone owns the pure ServerCore. Frames on a link the master cut are refused at this end
// (the master tells both ends). The same code runs over TCP and in the simulator: only the ports
// differ.
import { Chan } from "../../csp/chan.js";
import type { Clock, Random, Transport } from "../../ports.js";
import { ServerCore } from "../server_core.js";
import { AntiEntropySender, SESSION_TIMEOUT_MS, type SenderInput } from "./ae_sender.js";
import type { Control, Reply } from "./control.js";
import { IDLE_MS, runLoop } from "./loop.js";
import { batchFromWire, type PeerMsg } from "./messages.js";
import { LogProcessor, type LogOp } from "./log_processor.js";

/** A joining server asks its creator again this often. */
const JOIN_RESEND_MS = 500;
/** Room in each processor's inbox; a frame that finds it full is dropped (and counted). */
const INBOX = 4096;

export interface NodePorts {
  clock: Clock;
  random: Random;
  transport: Transport<PeerMsg>;
  /** Diagnostics (stderr with --verbose). */
  note(msg: string): void;
}

export interface ServerOptions {
  /** Mean time between background anti-entropy sessions; 0: only when the master asks. */
  gossipMs: number;
}

type ClientFrame = Extract<PeerMsg, { t: "c_write" | "c_read" }>;
type ReceiverFrame =
  | Extract<PeerMsg, { t: "ae_open" | "ae_batch" | "join_req" | "join_ok" }>
  /** From the write log: a session that found nothing to do is over. */
  | { t: "release"; from: number; sid: number };

export class BayouServerNode {
  private readonly logIn: Chan<LogOp>;
  private readonly clientIn: Chan<ClientFrame>;
  private readonly recvIn: Chan<ReceiverFrame>;
  private readonly sendIn: Chan<SenderInput>;
  private readonly log: LogProcessor;
  private readonly sender: AntiEntropySender;
  private readonly cut = new Set<number>();
  private servers: number[] = [];
  private paused = false;
  private running = true;
  private lock: { peer: number; sid: number; untilMs: number } | null = null;
  private joined: ((ok: boolean) => void) | null = null;
  private nextGossipMs = 0;
  private readonly loops: Promise<void>[];
  dropped = 0;

  constructor(
    readonly me: number,
    private readonly ports: NodePorts,
    private readonly opts: ServerOptions,
  ) {
    const c = ports.clock;
    this.logIn = new Chan("log", INBOX, c);
    this.clientIn = new Chan("client", INBOX, c);
    this.recvIn = new Chan("ae-receiver", INBOX, c);
    this.sendIn = new Chan("ae-sender", INBOX, c);
    this.log = new LogProcessor(me, {
      send: (to, msg) => this.send(to, msg),
      toSender: (input) => this.offer(this.sendIn, input),
      release: (peer, sid) => this.offer(this.recvIn, { t: "release", from: peer, sid }),
      note: (m) => ports.note(m),
    });
    this.sender = new AntiEntropySender({
      me,
      nowMs: () => c.nowUs() / 1000,
      send: (to, msg) => this.send(to, msg),
      open: (peer, sid, retire) => this.offer(this.logIn, { k: "open", sid, to: peer, retire }),
      batchFor: (sid, req, retire) => this.offer(this.logIn, { k: "batch_for", sid, req, retire }),
      linkedPeers: () => this.servers.filter((s) => s !== me && !this.cut.has(s)),
      changes: () => this.log.changes,
    });
    ports.transport.onMessage((msg) => this.route(msg));
    const on = () => this.running;
    this.loops = [
      runLoop(this.logIn, c, on, (op) => this.log.step(op)),
      runLoop(this.clientIn, c, on, (m) => this.offer(this.logIn, { k: "client", m })),
      runLoop(this.recvIn, c, on, (m) => this.receive(m)),
      runLoop(this.sendIn, c, on, (i) => this.sender.step(i), {
        run: () => this.senderTick(),
        waitMs: () => this.senderWaitMs(),
      }),
    ];
  }

  /** The master's commands. */
  control(ctl: Control): Promise<Reply> {
    switch (ctl.c) {
      case "peers":
        this.servers = ctl.peers.map(([n]) => n);
        if (this.lock !== null && !this.servers.includes(this.lock.peer)) this.lock = null;
        return ok();
      case "root":
        this.log.become(ServerCore.root());
        return ok();
      case "join":
        return this.join(ctl.creator);
      case "link":
        if (ctl.up) this.cut.delete(ctl.peer);
        else this.cut.add(ctl.peer);
        // A session with a peer now cut off will never finish: free the receiver at once.
        if (!ctl.up && this.lock?.peer === ctl.peer) this.lock = null;
        return ok();
      case "pause":
      case "start": {
        const on = ctl.c === "pause";
        this.paused = on;
        // Through the write log: a batch already queued there lands before the answer, and none
        // after it (bayou-spec.md: pause stops all anti-entropy).
        return this.ask<LogOp>(this.logIn, (resolve) => ({ k: "pause", on, resolve }));
      }
      case "round":
        return this.ask<SenderInput>(this.sendIn, (resolve) => ({
          k: "round",
          peers: ctl.peers ?? null,
          done: (r) => resolve({ ok: true, ...r, changes: this.log.changes }),
        }));
      case "retire":
        return this.ask<SenderInput>(this.sendIn, (resolve) => ({
          k: "retire",
          to: ctl.to,
          done: (done) => resolve(done ? { ok: true } : { ok: false, error: "hand-off failed" }),
        }));
      case "printLog":
      case "state":
        return this.ask<LogOp>(this.logIn, (resolve) => ({ k: "query", what: ctl.c, resolve }));
      default:
        return Promise.resolve({ ok: false, error: `a server does not take "${ctl.c}"` });
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const ch of [this.logIn, this.clientIn, this.recvIn, this.sendIn]) ch.close();
    await Promise.all(this.loops);
  }

  /** Asks the creator for a name and its state, again every JOIN_RESEND_MS until it answers
   * (it gives the same name to a repeated request). */
  private join(creator: number): Promise<Reply> {
    return new Promise((resolve) => {
      const clock = this.ports.clock;
      let resend = () => {};
      const ask = () => {
        this.send(creator, { t: "join_req", from: this.me });
        resend = clock.after(JOIN_RESEND_MS, ask);
      };
      const giveUp = clock.after(SESSION_TIMEOUT_MS * 5, () => {
        resend();
        this.joined = null;
        resolve({ ok: false, error: `no answer from creator ${creator}` });
      });
      this.joined = (done) => {
        giveUp();
        resend();
        this.joined = null;
        resolve(done ? { ok: true } : { ok: false, error: "join refused" });
      };
      ask();
    });
  }

  private route(msg: PeerMsg): void {
    if (this.cut.has(msg.from)) return;
    switch (msg.t) {
      case "c_write":
      case "c_read":
        return this.offer(this.clientIn, msg);
      case "ae_open":
      case "ae_batch":
      case "join_req":
      case "join_ok":
        return this.offer(this.recvIn, msg);
      case "ae_vector":
        return this.offer(this.sendIn, {
          k: "vector",
          from: msg.from,
          sid: msg.sid,
          req: msg.req,
          busy: msg.busy,
        });
      case "ae_done":
        return this.offer(this.sendIn, { k: "done", from: msg.from, sid: msg.sid });
      default:
        this.dropped += 1;
    }
  }

  /** The anti-entropy receiver: one session at a time (another sender hears "busy"). */
  private receive(m: ReceiverFrame): void {
    const now = this.ports.clock.nowUs() / 1000;
    switch (m.t) {
      case "ae_open": {
        const held = this.lock !== null && this.lock.untilMs > now && this.lock.peer !== m.from;
        if (held) {
          return this.send(m.from, {
            t: "ae_vector",
            from: this.me,
            sid: m.sid,
            req: null,
            busy: true,
          });
        }
        this.lock = { peer: m.from, sid: m.sid, untilMs: now + SESSION_TIMEOUT_MS };
        const { sid, have, retire } = m;
        return this.offer(this.logIn, { k: "vector", sid, to: m.from, have, retire });
      }
      case "release": {
        const mine = this.lock !== null && this.lock.peer === m.from && this.lock.sid === m.sid;
        if (mine) this.lock = null;
        return;
      }
      case "ae_batch": {
        const mine = this.lock !== null && this.lock.peer === m.from && this.lock.sid === m.sid;
        if (mine) this.lock = null;
        // A batch from a lapsed session is still safe write by write; a full transfer is not.
        if (!mine && !m.retire && m.batch.full !== null) return;
        const batch = batchFromWire(m.batch);
        const { sid, from, retire } = m;
        return this.offer(this.logIn, { k: "apply", sid, from, batch, retire });
      }
      case "join_req":
        return this.offer(this.logIn, { k: "create", to: m.from });
      case "join_ok":
        if (this.joined === null) return;
        this.offer(this.logIn, {
          k: "join",
          name: m.name,
          batch: batchFromWire(m.batch),
          done: this.joined,
        });
        return;
    }
  }

  private senderTick(): void {
    this.sender.tick();
    if (!this.gossiping) return;
    const now = this.ports.clock.nowUs() / 1000;
    if (now < this.nextGossipMs) return;
    this.nextGossipMs = now + this.opts.gossipMs * (0.5 + this.ports.random.next());
    this.sender.step({ k: "gossip" });
  }

  /** Until the sender's next timeout or gossip is due (at least 1 ms; an idle sender sleeps
   * until a message wakes it: a round, a reply, or the log saying it changed). */
  private senderWaitMs(): number {
    const now = this.ports.clock.nowUs() / 1000;
    let due = Math.min(now + IDLE_MS, this.sender.nextDueMs());
    if (this.gossiping && this.sender.hasGossip) due = Math.min(due, this.nextGossipMs);
    return Math.max(1, due - now);
  }

  private get gossiping(): boolean {
    return this.opts.gossipMs > 0 && !this.paused && this.log.live;
  }

  private send(to: number, msg: PeerMsg): void {
    if (this.cut.has(to)) return;
    this.ports.transport.send(to, msg);
  }

  /** A command for a processor, answered when it is done (or at once if its inbox is full). */
  private ask<T extends object>(
    ch: Chan<T>,
    make: (resolve: (r: Reply) => void) => T,
  ): Promise<Reply> {
    return new Promise((resolve) => {
      if (!ch.offer(make(resolve))) resolve({ ok: false, error: `${ch.name} inbox full` });
    });
  }

  private offer<T extends object>(ch: Chan<T>, value: T): void {
    if (!ch.offer(value)) {
      this.dropped += 1;
      this.ports.note(`server ${this.me}: ${ch.name} inbox full, dropped a message`);
    }
  }
}

function ok(): Promise<Reply> {
  return Promise.resolve({ ok: true });
}
