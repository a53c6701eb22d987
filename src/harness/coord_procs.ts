// The coordination scenarios' client processes: each runs coord_worker.ts (node, under tsx when
// this file runs as TypeScript) with its role as a JSON argument and reports JSON lines on stdout.
// The harness waits for lines, writes commands to its stdin, stops and continues it by PID
// (SIGSTOP/SIGCONT), and stops it by PID (SIGTERM, then SIGKILL) in the end.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** ms on the host's monotonic clock: the same clock in every process (CLOCK_MONOTONIC). */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `probe` every `everyMs` until it gives a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
  everyMs = 20,
): Promise<T> {
  const until = nowMs() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (nowMs() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** One line a worker reported: `ev` names it; `t` is nowMs() when it was written. */
export interface WorkerLine {
  ev: string;
  t: number;
  [field: string]: unknown;
}

function workerEntry(): string[] {
  const isTs = import.meta.url.endsWith(".ts");
  const entry = fileURLToPath(
    new URL(isTs ? "./coord_worker.ts" : "./coord_worker.js", import.meta.url),
  );
  return [...(isTs ? ["--import", "tsx"] : []), entry];
}

type Waiter = { match: (l: WorkerLine) => boolean; resolve: (l: WorkerLine) => void };

export class WorkerProc {
  readonly lines: WorkerLine[] = [];
  readonly exited: Promise<string>;
  private readonly child: ChildProcess;
  private waiters: Waiter[] = [];
  private stderr = "";
  private exitNote: string | null = null;

  constructor(
    readonly name: string,
    spec: object,
  ) {
    this.child = spawn(process.execPath, [...workerEntry(), JSON.stringify(spec)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdin?.on("error", () => {}); // a worker that exited: its commands go nowhere
    createInterface({ input: this.child.stdout! }).on("line", (l) => this.take(l));
    this.child.stderr?.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        this.exitNote = `exited (${signal ?? code})`;
        resolve(this.exitNote);
      }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private take(text: string): void {
    let line: WorkerLine;
    try {
      line = JSON.parse(text) as WorkerLine;
    } catch {
      this.stderr = (this.stderr + `unparsable line: ${text}\n`).slice(-4000);
      return;
    }
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
  }

  /** Lines of one kind, in the order written. */
  all(ev: string): WorkerLine[] {
    return this.lines.filter((l) => l.ev === ev);
  }

  /** The first line (already seen or to come) that `match` accepts. */
  async next(match: (l: WorkerLine) => boolean, timeoutMs: number, what: string) {
    const seen = this.lines.find(match);
    if (seen) return seen;
    let timer: NodeJS.Timeout | undefined;
    const waiter: Waiter = { match, resolve: () => {} };
    try {
      return await new Promise<WorkerLine>((resolve, reject) => {
        waiter.resolve = resolve;
        this.waiters.push(waiter);
        timer = setTimeout(
          () => reject(new Error(this.why(`${what}: none in ${timeoutMs} ms`))),
          timeoutMs,
        );
        void this.exited.then(() =>
          // Lines still in the pipe are read before "exit"? Not always: give them a moment.
          setTimeout(
            () => reject(new Error(this.why(`${what}: the worker ${this.exitNote}`))),
            200,
          ),
        );
      });
    } finally {
      clearTimeout(timer);
      this.waiters = this.waiters.filter((w) => w !== waiter);
    }
  }

  /** `ev` with an error message, or the line of that kind. */
  until(ev: string, timeoutMs: number): Promise<WorkerLine> {
    return this.next((l) => l.ev === ev || l.ev === "error", timeoutMs, `${this.name} ${ev}`).then(
      (l) => {
        if (l.ev === "error") throw new Error(`${this.name}: ${String(l.message)}`);
        return l;
      },
    );
  }

  why(what: string): string {
    const tail = this.stderr.trim().split("\n").slice(-3).join(" | ");
    return `${this.name}: ${what}${tail ? ` (stderr: ${tail})` : ""}`;
  }

  /** Everything it reported and the tail of its stderr, for the files a failed scenario keeps. */
  transcript(): string {
    const lines = this.lines.map((l) => JSON.stringify(l)).join("\n");
    return `${lines}\n${this.stderr ? `# stderr:\n${this.stderr}\n` : ""}`;
  }

  send(command: object): void {
    this.child.stdin?.write(JSON.stringify(command) + "\n");
  }

  pause(): void {
    this.child.kill("SIGSTOP");
  }

  resume(): void {
    this.child.kill("SIGCONT");
  }

  /** Stop it by PID: SIGCONT (a stopped process cannot exit), SIGTERM, SIGKILL after 2 s. */
  async stop(): Promise<void> {
    if (this.exitNote !== null) return;
    this.child.kill("SIGCONT");
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
