// The master's processes: every server and client is its own OS process (node_main), spoken to
// with JSON lines on its stdin and stdout. A few spare processes are started ahead, so a
// joinServer does not wait for Node to boot; a spare becomes a server or a client when the
// master needs one. Every process is stopped by its PID.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Control, Reply } from "../node/control.js";
import type { ClusterPort, NodeHandle } from "./master.js";

/** A command's answer must come within this (a retirement may resend for up to 30 s). */
const CALL_TIMEOUT_MS = 60_000;
/** How long a process gets to say it is ready, and to exit when told. */
const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 1000;

export interface ProcessOptions {
  gossipMs: number;
  verbose: boolean;
  /** Processes kept booted ahead of need. */
  spares: number;
}

function nodeEntry(): { cmd: string; args: string[] } {
  const isTs = import.meta.url.endsWith(".ts");
  const rel = isTs ? "../cli/node_main.ts" : "../cli/node_main.js";
  const entry = fileURLToPath(new URL(rel, import.meta.url));
  return { cmd: process.execPath, args: [...(isTs ? ["--import", "tsx"] : []), entry] };
}

class Proc implements NodeHandle {
  node = -1;
  addr = "";
  private nextN = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private ready: ((addr: string) => void) | null = null;
  private readonly exited: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    verbose: boolean,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.once("exit", () => {
      for (const done of this.waiting.values()) done({ ok: false, error: "the process exited" });
      this.waiting.clear();
    });
    child.stdin?.on("error", () => {});
    // Copied by hand: a pipe per child would add listeners to process.stderr for each of them.
    if (verbose) child.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
    else child.stderr?.resume();
    createInterface({ input: child.stdout! }).on("line", (line) => this.lineIn(line));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async become(kind: "server" | "client", node: number, opts: ProcessOptions): Promise<void> {
    this.node = node;
    let late: NodeJS.Timeout | undefined;
    const ready = new Promise<string>((resolve, reject) => {
      this.ready = resolve;
      void this.exited.then(() => reject(new Error("the process exited before it was ready")));
      late = setTimeout(
        () => reject(new Error("the process did not start in time")),
        START_TIMEOUT_MS,
      );
    });
    const role = { role: kind, node, gossipMs: opts.gossipMs, verbose: opts.verbose };
    this.child.stdin?.write(`${JSON.stringify(role)}\n`);
    try {
      this.addr = await ready;
    } finally {
      clearTimeout(late);
    }
  }

  call(ctl: Control): Promise<Reply> {
    if (!this.alive) return Promise.resolve({ ok: false, error: "the process is not running" });
    const n = this.nextN++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(n);
        resolve({ ok: false, error: `no answer to ${ctl.c} in ${CALL_TIMEOUT_MS} ms` });
      }, CALL_TIMEOUT_MS);
      this.waiting.set(n, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.stdin?.write(`${JSON.stringify({ n, ctl })}\n`);
    });
  }

  /** Closes its stdin (it exits by itself), then SIGKILL by PID if it lingers. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.stdin?.end();
    const late = setTimeout(() => this.kill(), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(late);
  }

  kill(): void {
    if (this.alive && this.child.pid !== undefined) process.kill(this.child.pid, "SIGKILL");
  }

  private lineIn(line: string): void {
    let value: { ready?: unknown; n?: unknown; reply?: unknown };
    try {
      value = JSON.parse(line) as typeof value;
    } catch {
      return;
    }
    if (typeof value.ready === "string" && this.ready !== null) {
      this.ready(value.ready);
      this.ready = null;
      return;
    }
    if (typeof value.n !== "number") return;
    const done = this.waiting.get(value.n);
    this.waiting.delete(value.n);
    done?.(value.reply as Reply);
  }
}

/** Booted processes waiting for a role, shared by the runs of one master (a --check). */
export class ProcessPool {
  private readonly spares: Proc[] = [];
  private closed = false;

  constructor(private readonly opts: ProcessOptions) {
    this.refill();
  }

  /** A booted (or booting) process that has no role yet; another starts in its place. */
  take(): Proc {
    let p = this.spares.shift();
    while (p !== undefined && !p.alive) p = this.spares.shift();
    p ??= this.spawn();
    this.refill();
    return p;
  }

  /** Kills the spares (they have no role, so nothing is lost). */
  close(): void {
    this.closed = true;
    for (const p of this.spares.splice(0)) p.kill();
  }

  private refill(): void {
    while (!this.closed && this.spares.length < this.opts.spares) this.spares.push(this.spawn());
  }

  private spawn(): Proc {
    const { cmd, args } = nodeEntry();
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    return new Proc(child, this.opts.verbose);
  }
}

/** The processes of one run: taken from the pool, each given its role, all stopped at the end. */
export class ProcessCluster implements ClusterPort {
  private readonly started = new Set<Proc>();
  private closed = false;

  constructor(
    private readonly pool: ProcessPool,
    private readonly opts: ProcessOptions,
  ) {}

  /** Every process started and still running (their PIDs). */
  pids(): number[] {
    return [...this.started].filter((p) => p.alive).map((p) => p.child.pid ?? -1);
  }

  async start(kind: "server" | "client", node: number): Promise<NodeHandle> {
    if (this.closed) throw new Error("the cluster is closed");
    const p = this.pool.take();
    this.started.add(p);
    try {
      await p.become(kind, node, this.opts);
    } catch (e) {
      p.kill();
      throw e;
    }
    return p;
  }

  /** Stops every process this run started, by PID. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.started].map((p) => p.stop()));
  }

  /** Kills everything at once (an interrupted master). */
  killAll(): void {
    this.closed = true;
    for (const p of this.started) p.kill();
  }
}
