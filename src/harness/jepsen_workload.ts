// The Jepsen-style test's clients: each worker runs one operation at a time (read, write, cas,
// delete on a few keys) through the client library and records what it saw, in the history format
// yasp-lincheck reads. An operation without an answer (timeout, lost connection) is "unknown"
// and stays open to the end; the worker then goes on as a new client (a new history client number
// and a new connection), as one client has at most one operation open.
import { connect, KvError, NotFound, VersionMismatch, type KvClient } from "../client/index.js";

export interface HistoryOp {
  client: number;
  op: "read" | "write" | "cas" | "delete";
  key: string;
  value?: string | null;
  from?: string;
  to?: string;
  call: number;
  ret: number | null;
  status: "ok" | "fail" | "unknown";
}

export interface WorkloadOptions {
  endpoints: string[];
  workers: number;
  keys: number;
  untilMs: number;
  timeoutMs: number;
  seed: number;
  /** Read without a read barrier (the library's stale reads): a known way to lose
   * linearizability, to show the test notices (--stale-reads). */
  staleReads?: boolean;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");

/** Milliseconds on one monotonic clock (the history's call/ret). */
export const nowMs = () => Number(process.hrtime.bigint() / 1000n) / 1000;

class Worker {
  private client: KvClient;
  private clientNo: number;
  private generation = 0;
  private written = 0;
  private random: () => number;

  constructor(
    private readonly index: number,
    private readonly opts: WorkloadOptions,
    private readonly history: HistoryOp[],
  ) {
    let s = (opts.seed * 7919 + index * 104_729) >>> 0 || 1;
    this.random = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 4_294_967_296;
    };
    this.clientNo = index * 1000;
    this.client = this.newClient();
  }

  private newClient(): KvClient {
    // Each connection starts at another rank, so a worker stuck behind a minority moves on.
    const start = Math.floor(this.random() * this.opts.endpoints.length);
    const endpoints = [...this.opts.endpoints.slice(start), ...this.opts.endpoints.slice(0, start)];
    return connect({ endpoints, timeoutMs: this.opts.timeoutMs });
  }

  /** After an unknown outcome: a new client (number and connection). */
  private async renew(): Promise<void> {
    const old = this.client;
    this.generation++;
    this.clientNo = this.index * 1000 + this.generation;
    this.client = this.newClient();
    await old.close().catch(() => {});
  }

  async run(): Promise<void> {
    while (nowMs() < this.opts.untilMs) {
      const key = `k${Math.floor(this.random() * this.opts.keys)}`;
      const pick = this.random();
      if (pick < 0.4) await this.read(key);
      else if (pick < 0.7) await this.write(key);
      else if (pick < 0.9) await this.cas(key);
      else await this.remove(key);
    }
    await this.client.close().catch(() => {});
  }

  /** A read; resolves with what it saw (undefined: no answer). */
  async read(key: string): Promise<{ value: string | null; version: number } | undefined> {
    const call = nowMs();
    try {
      const got = await this.client.get(key, { stale: this.opts.staleReads === true });
      const value = text(got.value);
      this.record({ op: "read", key, value, call, ret: nowMs(), status: "ok" });
      return { value, version: got.version };
    } catch (e) {
      if (e instanceof NotFound) {
        this.record({ op: "read", key, value: null, call, ret: nowMs(), status: "ok" });
        return { value: null, version: 0 };
      }
      // An unanswered read constrains nothing; recorded for the record.
      this.record({ op: "read", key, call, ret: null, status: "unknown" });
      await this.renew();
      return undefined;
    }
  }

  private async write(key: string): Promise<void> {
    const value = `${this.index}:${this.written++}`;
    const call = nowMs();
    try {
      await this.client.put(key, value);
      this.record({ op: "write", key, value, call, ret: nowMs(), status: "ok" });
    } catch (e) {
      await this.unknown({ op: "write", key, value, call }, e);
    }
  }

  /** Read the key, then cas it from that version (that value: values are unique) to a new one. */
  private async cas(key: string): Promise<void> {
    const seen = await this.read(key);
    if (!seen || seen.value === null) return;
    const to = `${this.index}:${this.written++}`;
    const call = nowMs();
    try {
      await this.client.cas(key, seen.version, to);
      this.record({ op: "cas", key, from: seen.value, to, call, ret: nowMs(), status: "ok" });
    } catch (e) {
      if (e instanceof VersionMismatch || e instanceof NotFound)
        this.record({ op: "cas", key, from: seen.value, to, call, ret: nowMs(), status: "fail" });
      else await this.unknown({ op: "cas", key, from: seen.value, to, call }, e);
    }
  }

  private async remove(key: string): Promise<void> {
    const call = nowMs();
    try {
      await this.client.delete(key);
      this.record({ op: "delete", key, call, ret: nowMs(), status: "ok" });
    } catch (e) {
      // Not found: the key was absent there, which deleting it again leaves as it was.
      if (e instanceof NotFound)
        this.record({ op: "delete", key, call, ret: nowMs(), status: "ok" });
      else await this.unknown({ op: "delete", key, call }, e);
    }
  }

  private async unknown(
    op: Omit<HistoryOp, "client" | "ret" | "status">,
    e: unknown,
  ): Promise<void> {
    if (!(e instanceof KvError)) throw e;
    this.record({ ...op, ret: null, status: "unknown" });
    await this.renew();
  }

  private record(op: Omit<HistoryOp, "client">): void {
    this.history.push({ client: this.clientNo, ...op });
  }
}

/** Run the workers until untilMs; the history of everything they did. */
export async function runWorkload(opts: WorkloadOptions): Promise<HistoryOp[]> {
  const history: HistoryOp[] = [];
  const workers = Array.from({ length: opts.workers }, (_, i) => new Worker(i, opts, history));
  await Promise.all(workers.map((w) => w.run()));
  return history;
}

/** After the faults: read every key once more (a fresh client), so the end state is in the history. */
export async function finalReads(opts: WorkloadOptions, history: HistoryOp[]): Promise<void> {
  const w = new Worker(opts.workers, { ...opts, timeoutMs: 20_000 }, history);
  for (let k = 0; k < opts.keys; k++) await w.read(`k${k}`);
  await w.run(); // untilMs has passed: it only closes its client
}
