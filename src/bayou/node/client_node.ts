// One Bayou client process: its session (the writes it made and the writes its reads saw, as
// version vectors) and the one server it talks to. A processor loop takes the master's requests
// and the server's answers from one inbox. A request to a server it cannot reach (the link is
// cut, or no answer in OP_TIMEOUT_MS) comes back "unreachable": the master prints nothing for it.
import { Chan } from "../../csp/chan.js";
import { ClientSession } from "../session.js";
import type { ReadResult } from "../server_core.js";
import { VersionVector } from "../vectors.js";
import type { Control, Reply } from "./control.js";
import { every, runLoop, TICK_MS } from "./loop.js";
import type { ClientOp, PeerMsg } from "./messages.js";
import type { NodePorts } from "./server_node.js";

/** How long a request waits for its server. */
export const OP_TIMEOUT_MS = 5000;
/** Most requests waiting for answers (the master sends one at a time). */
const MAX_PENDING = 1024;

type Answer = Extract<PeerMsg, { t: "c_written" | "c_read_ok" }>;
type Input =
  | { k: "op"; op: ClientOp; resolve: (r: Reply) => void }
  | { k: "get"; song: string; resolve: (r: Reply) => void }
  | { k: "answer"; m: Answer };

interface Pending {
  song: string;
  deadlineMs: number;
  resolve: (r: Reply) => void;
}

export class BayouClientNode {
  private readonly inbox: Chan<Input>;
  private readonly session = new ClientSession();
  private readonly cut = new Set<number>();
  private readonly pending = new Map<number, Pending>();
  private server: number | null = null;
  private nextReq = 1;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    readonly me: number,
    private readonly ports: NodePorts,
  ) {
    this.inbox = new Chan("client", 4096, ports.clock);
    ports.transport.onMessage((m) => {
      if (this.cut.has(m.from)) return;
      if (m.t === "c_written" || m.t === "c_read_ok") this.inbox.offer({ k: "answer", m });
    });
    this.loop = runLoop(
      this.inbox,
      ports.clock,
      () => this.running,
      (i) => this.step(i),
      every(TICK_MS, () => this.expire()),
    );
  }

  control(ctl: Control): Promise<Reply> {
    switch (ctl.c) {
      case "peers":
      case "pause":
      case "start":
        return Promise.resolve({ ok: true });
      case "attach":
        this.server = ctl.server;
        return Promise.resolve({ ok: true });
      case "link":
        if (!ctl.up) this.cut.add(ctl.peer);
        else {
          this.cut.delete(ctl.peer);
          this.server = ctl.peer;
        }
        return Promise.resolve({ ok: true });
      case "put":
      case "delete": {
        const op: ClientOp =
          ctl.c === "put"
            ? { kind: "put", song: ctl.song, url: ctl.url }
            : { kind: "delete", song: ctl.song };
        return new Promise((resolve) => this.submit({ k: "op", op, resolve }, resolve));
      }
      case "get":
        return new Promise((resolve) =>
          this.submit({ k: "get", song: ctl.song, resolve }, resolve),
        );
      default:
        return Promise.resolve({ ok: false, error: `a client does not take "${ctl.c}"` });
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.inbox.close();
    await this.loop;
  }

  private submit(input: Input, resolve: (r: Reply) => void): void {
    if (!this.inbox.offer(input)) resolve({ ok: false, error: "client inbox full" });
  }

  private step(i: Input): void {
    if (i.k === "answer") return this.answer(i.m);
    const server = this.server;
    if (server === null || this.cut.has(server) || this.pending.size >= MAX_PENDING) {
      return i.resolve({ ok: true, outcome: "unreachable" });
    }
    const req = this.nextReq++;
    const deadlineMs = this.ports.clock.nowUs() / 1000 + OP_TIMEOUT_MS;
    const deps = this.session.deps().entries();
    if (i.k === "op") {
      this.pending.set(req, { song: "", deadlineMs, resolve: i.resolve });
      this.ports.transport.send(server, { t: "c_write", from: this.me, req, op: i.op, deps });
    } else {
      this.pending.set(req, { song: i.song, deadlineMs, resolve: i.resolve });
      this.ports.transport.send(server, { t: "c_read", from: this.me, req, song: i.song, deps });
    }
  }

  private answer(m: Answer): void {
    const p = this.pending.get(m.req);
    if (p === undefined || m.from !== this.server) return;
    this.pending.delete(m.req);
    if (m.t === "c_written") {
      if (m.write === null) return p.resolve({ ok: true, outcome: "dropped" });
      const write = { ...m.write, csn: null, op: { kind: "retire" as const } };
      this.session.afterWrite({ accepted: true, write });
      return p.resolve({ ok: true, outcome: "written" });
    }
    const r = m.result;
    const result: ReadResult =
      r.kind === "err_dep" ? r : { ...r, relevant: new VersionVector(r.relevant) };
    this.session.afterRead(result);
    const shown = r.kind === "value" ? r.url : r.kind === "err_key" ? "ERR_KEY" : "ERR_DEP";
    p.resolve({ ok: true, lines: [`${p.song}:${shown}`] });
  }

  /** Requests whose server never answered: unreachable. */
  private expire(): void {
    const now = this.ports.clock.nowUs() / 1000;
    for (const [req, p] of [...this.pending]) {
      if (now < p.deadlineMs) continue;
      this.pending.delete(req);
      p.resolve({ ok: true, outcome: "unreachable" });
    }
  }
}
