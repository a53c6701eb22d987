// A local yasp-kv cluster: N yasp-kv processes on 127.0.0.1 with ports the OS chose, a cluster
// file naming each rank's peer, client and text address, a cluster secret, a data directory per
// rank. Used by yasp-kv-cluster, the tests, the Jepsen-style fault test and bench:kv. Processes are
// stopped by PID (kill -9 and restart, SIGSTOP/SIGCONT), never by name.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts, RANK_NODE_FLAGS } from "./launch.js";

export interface KvClusterOptions {
  n: number;
  dir: string;
  /** Flags for every rank (e.g. --no-fsync, -o 100, --fail-rate 0.1). */
  rankArgs?: string[];
  /** Serve the text protocol too. */
  text?: boolean;
  /** Write the audit logs to <dir>/audit (yasp-check can read them). */
  audit?: boolean;
  /** Fault injection: ranks poll this partition file. */
  partitionFile?: boolean;
  /** The port convention (rank i: peer P+i, client P+1000+i, text P+2000+i) instead of ports
   * the OS chose. */
  basePort?: number;
}

export interface KvRankInfo {
  rank: number;
  peer: string;
  client: string;
  text: string | null;
}

function kvEntry(): { cmd: string; args: string[] } {
  const isTs = import.meta.url.endsWith(".ts");
  const entry = fileURLToPath(new URL(isTs ? "./kv.ts" : "./kv.js", import.meta.url));
  const extra = (process.env.YASP_NODE_ARGS ?? "").split(" ").filter(Boolean);
  return {
    cmd: process.execPath,
    args: [...RANK_NODE_FLAGS, ...extra, ...(isTs ? ["--import", "tsx"] : []), entry],
  };
}

export class KvCluster {
  readonly ranks: KvRankInfo[];
  private readonly children: (ChildProcess | null)[];
  private readonly output: string[];
  readonly partitionPath: string;

  private constructor(
    private readonly opts: KvClusterOptions,
    ranks: KvRankInfo[],
    private readonly clusterFile: string,
    private readonly secretFile: string,
  ) {
    this.ranks = ranks;
    this.children = ranks.map(() => null);
    this.output = ranks.map(() => "");
    this.partitionPath = join(opts.dir, "partition.json");
  }

  static async start(opts: KvClusterOptions): Promise<KvCluster> {
    mkdirSync(opts.dir, { recursive: true });
    const base = opts.basePort;
    const ports =
      base === undefined
        ? await freePorts(opts.n * 3)
        : Array.from({ length: opts.n }, (_, i) => [
            base + i,
            base + 1000 + i,
            base + 2000 + i,
          ]).flat();
    const ranks = Array.from({ length: opts.n }, (_, i) => ({
      rank: i,
      peer: `127.0.0.1:${ports[3 * i]}`,
      client: `127.0.0.1:${ports[3 * i + 1]}`,
      text: opts.text ? `127.0.0.1:${ports[3 * i + 2]}` : null,
    }));
    const clusterFile = join(opts.dir, "cluster.json");
    const entries = ranks.map((r) => ({
      peer: r.peer,
      client: r.client,
      ...(r.text ? { text: r.text } : {}),
    }));
    writeFileSync(clusterFile, JSON.stringify(entries, null, 1) + "\n");
    const secretFile = join(opts.dir, "cluster.secret");
    writeFileSync(secretFile, randomBytes(32), { mode: 0o600 });
    const c = new KvCluster(opts, ranks, clusterFile, secretFile);
    try {
      await Promise.all(ranks.map((r) => c.startRank(r.rank)));
    } catch (e) {
      await c.stop(); // none is left running when the start fails
      throw e;
    }
    return c;
  }

  get endpoints(): string[] {
    return this.ranks.map((r) => r.client);
  }

  dataDir(rank: number): string {
    return join(this.opts.dir, `data-${rank}`);
  }

  pid(rank: number): number | undefined {
    return this.children[rank]?.pid;
  }

  /** Start (or restart) one rank; resolves once it said it listens on every port. */
  startRank(rank: number, extra: string[] = []): Promise<void> {
    const { cmd, args } = kvEntry();
    const flags = [
      ...args,
      "-i",
      String(rank),
      "--cluster",
      this.clusterFile,
      "--cluster-secret",
      this.secretFile,
      "--data-dir",
      this.dataDir(rank),
      ...(this.opts.audit ? ["--audit-log", join(this.opts.dir, "audit")] : []),
      ...(this.opts.partitionFile ? ["--partition-file", this.partitionPath] : []),
      ...(this.ranks[rank]?.text
        ? ["--text-port", (this.ranks[rank]?.text ?? "").split(":")[1] ?? ""]
        : []),
      ...(this.opts.rankArgs ?? []),
      ...extra,
    ];
    const child = spawn(cmd, flags, { stdio: ["ignore", "pipe", "pipe"] });
    this.children[rank] = child;
    return new Promise((resolve, reject) => {
      let seen = "";
      const onData = (d: Buffer) => {
        seen += d.toString();
        this.output[rank] += d.toString();
        if (seen.includes(`yasp-kv rank ${rank}:`)) resolve();
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", (d: Buffer) => (this.output[rank] += d.toString()));
      child.once("exit", (code, signal) => {
        if (this.children[rank] === child) this.children[rank] = null;
        reject(
          new Error(
            `rank ${rank} exited (${signal ?? code}) before listening: ${(this.output[rank] ?? "").slice(-500).trim()}`,
          ),
        );
      });
    });
  }

  /** kill -9 one rank (by PID) and wait for it to be gone. */
  async kill(rank: number): Promise<void> {
    const child = this.children[rank];
    if (!child || child.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await gone;
    this.children[rank] = null;
  }

  pause(rank: number): void {
    this.children[rank]?.kill("SIGSTOP");
  }

  resume(rank: number): void {
    this.children[rank]?.kill("SIGCONT");
  }

  /** Groups of ranks that can talk ([] heals); the ranks poll the file every 50 ms. */
  partition(groups: number[][]): void {
    // Written whole, then renamed: a rank never reads half a file.
    const tmp = `${this.partitionPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(groups));
    renameSync(tmp, this.partitionPath);
  }

  isRunning(rank: number): boolean {
    return this.children[rank] != null;
  }

  log(rank: number): string {
    return this.output[rank] ?? "";
  }

  /** Stop every rank: SIGCONT (a paused one cannot die gracefully), SIGTERM, then kill -9. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(async (child) => {
        if (!child || child.exitCode !== null) return;
        const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGCONT");
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await gone;
        clearTimeout(timer);
      }),
    );
    this.children.fill(null);
  }
}
