// What a coordination scenario runs on: fresh yasp-kv rank processes (KvCluster, ports the OS
// chose, 127.0.0.1, data under the scenario's directory), the client processes it starts
// (coord_procs.ts), clients of its own for set-up and final reads, and the ranks' lease logs.
// close() stops every process it started, by PID.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type KvClient } from "../client/index.js";
import { KvCluster } from "../cli/kv_launch.js";
import { nowMs, sleep, waitFor, WorkerProc } from "./coord_procs.js";

export interface Settings {
  long: boolean;
  seed: number;
  keep: boolean;
}

/** What a scenario found: problems (none: pass) and figures for its line. */
export interface Outcome {
  problems: string[];
  figures: string[];
}

export interface CoordScenario {
  name: string;
  ranks: number;
  /** Fault flags of every rank (--drop, --delay); the seed is added. */
  faults?: string[];
  run(ctx: CoordCtx): Promise<Outcome>;
}

/** One line of a rank's lease log: `held <rank> <term> <fromUs> <untilUs>` or
 * `ended <rank> <term> <atUs>` (µs on the host's monotonic clock). */
export type LeaseLine =
  | { kind: "held"; rank: number; term: number; fromUs: number; untilUs: number }
  | { kind: "ended"; rank: number; term: number; atUs: number };

export function parseLeaseLog(text: string): LeaseLine[] {
  const out: LeaseLine[] = [];
  for (const line of text.split("\n")) {
    const [kind, ...nums] = line.trim().split(/\s+/);
    const [rank, term, a, b] = nums.map(Number);
    if (rank === undefined || term === undefined || a === undefined) continue;
    if (kind === "held" && b !== undefined) out.push({ kind, rank, term, fromUs: a, untilUs: b });
    else if (kind === "ended") out.push({ kind, rank, term, atUs: a });
  }
  return out;
}

/** Is the last thing a rank's log says a lease that has not run out at `atUs`? */
export function holdsAt(lines: LeaseLine[], atUs: number): boolean {
  const last = lines[lines.length - 1];
  return last?.kind === "held" && last.fromUs <= atUs && atUs < last.untilUs;
}

const RANK_FLAGS = ["--no-fsync"];

export class CoordCtx {
  readonly workers: WorkerProc[] = [];
  private readonly clients: KvClient[] = [];
  private readonly byEndpoint = new Map<string, KvClient>();

  private constructor(
    readonly cluster: KvCluster,
    readonly dir: string,
    readonly settings: Settings,
  ) {}

  static async start(s: CoordScenario, settings: Settings, dir: string): Promise<CoordCtx> {
    const faults = s.faults?.length ? [...s.faults, "--seed", String(settings.seed)] : [];
    const cluster = await KvCluster.start({
      n: s.ranks,
      dir,
      rankArgs: [...RANK_FLAGS, ...faults],
    });
    const ctx = new CoordCtx(cluster, dir, settings);
    try {
      await ctx.masterServing(15_000);
    } catch (e) {
      await ctx.close();
      throw e;
    }
    return ctx;
  }

  /** Wait until some rank names a master whose entry is applied (epoch > 0). */
  async masterServing(timeoutMs: number): Promise<{ rank: number; epoch: number }> {
    const c = this.client(this.cluster.endpoints, 1000);
    return waitFor(
      async () => {
        const m = await c.checkMaster().catch(() => null);
        return m && m.epoch > 0 ? m : undefined;
      },
      timeoutMs,
      "a master serving",
      20,
    );
  }

  get n(): number {
    return this.cluster.ranks.length;
  }

  /** A client process; `spec` is its role (coord_worker.ts), endpoints added unless given. */
  worker(name: string, spec: object): WorkerProc {
    const w = new WorkerProc(name, { endpoints: this.cluster.endpoints, ...spec });
    this.workers.push(w);
    return w;
  }

  /** A client of the harness itself (set-up, final reads, status), closed by close(). */
  client(endpoints = this.cluster.endpoints, timeoutMs = 10_000): KvClient {
    const c = connect({ endpoints, timeoutMs });
    this.clients.push(c);
    return c;
  }

  /** One client per endpoint, kept for the scenario (status and master questions to one rank). */
  clientOf(endpoint: string): KvClient {
    let c = this.byEndpoint.get(endpoint);
    if (!c) this.byEndpoint.set(endpoint, (c = this.client([endpoint], 3000)));
    return c;
  }

  leaseLog(rank: number): LeaseLine[] {
    try {
      return parseLeaseLog(readFileSync(this.leaseLogPath(rank), "utf8"));
    } catch {
      return [];
    }
  }

  leaseLogPath(rank: number): string {
    return join(this.cluster.dataDir(rank), "lease.log");
  }

  /** The ranks whose lease logs say they hold the lease now (running ranks only). */
  masters(): number[] {
    const now = nowMs() * 1000;
    return this.cluster.ranks
      .map((r) => r.rank)
      .filter((r) => this.cluster.isRunning(r) && holdsAt(this.leaseLog(r), now));
  }

  /** Wait until every running rank reports the same applied seq and state hash. */
  async sameState(timeoutMs: number): Promise<{ ok: boolean; note: string }> {
    const up = this.cluster.ranks.filter((r) => this.cluster.isRunning(r.rank));
    const clients = up.map((r) => this.clientOf(r.client));
    let note = "";
    for (const until = nowMs() + timeoutMs; nowMs() < until; await sleep(200)) {
      const all = await Promise.all(
        clients.map((c) =>
          c.status().catch((e: unknown) => (e instanceof Error ? e.message : "?")),
        ),
      );
      const seen = all.map((s) =>
        typeof s === "string" ? s : `${String(s.appliedSeq)}/${String(s.stateHash)}`,
      );
      note = seen.join(" ");
      const first = all[0];
      if (
        typeof first === "object" &&
        all.every((s) => typeof s === "object") &&
        new Set(seen).size === 1
      )
        return { ok: true, note: `${up.length} ranks at seq ${String(first.appliedSeq)}` };
    }
    return { ok: false, note: `ranks differ after ${timeoutMs} ms: ${note}` };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
    for (const w of this.workers) writeFileSync(join(this.dir, `${w.name}.jsonl`), w.transcript());
    await Promise.all(this.clients.map((c) => c.close().catch(() => {})));
    await this.cluster.stop();
  }
}
