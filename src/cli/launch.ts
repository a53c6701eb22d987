// `yasp-cluster`: start N rank processes on 127.0.0.1 (free ports from the OS), wait for them,
// stop any that outlive the deadline (by PID), and report. Used by run_and_check.sh and tests.
// Every run gets a cluster secret of its own (in its directory, mode 0600), so peer frames are
// authenticated wherever the launchers run ranks.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ClusterOptions {
  n: number;
  logDir: string;
  /** Flags passed to every rank (-o, -l, -t, --rate, ...). */
  rankArgs: string[];
  /** Kill every rank still running after this many ms. */
  deadlineMs: number;
  /** Each rank writes its status to <logDir>/rank-<i>.status.json (see --status-file). */
  statusFiles?: boolean;
  /** Called once every rank is spawned (e.g. to watch their memory by PID). */
  onSpawn?: (pids: number[]) => void;
}

export interface RankOutcome {
  rank: number;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Ask the OS for n distinct free ports on 127.0.0.1. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Node flags of every rank: V8's default young generation (3 x 16 MB semi-spaces) was about 30 MB
 * of a rank's RSS; 4 MB semi-spaces kept 1M-commit runs at 103-126 MB instead of 129-152 MB, with
 * the same CPU and latency. bin/yasp.js passes the same flag. */
export const RANK_NODE_FLAGS = ["--max-semi-space-size=4"];

/** The rank entry point next to this file (rank.ts under tsx, rank.js once built).
 * YASP_NODE_ARGS adds node flags to every rank (e.g. "--cpu-prof --cpu-prof-dir=prof"). */
export function rankEntry(): { cmd: string; args: string[] } {
  const isTs = import.meta.url.endsWith(".ts");
  const entry = fileURLToPath(new URL(isTs ? "./rank.ts" : "./rank.js", import.meta.url));
  const extra = (process.env.YASP_NODE_ARGS ?? "").split(" ").filter(Boolean);
  return {
    cmd: process.execPath,
    args: [...RANK_NODE_FLAGS, ...extra, ...(isTs ? ["--import", "tsx"] : []), entry],
  };
}

export async function writeCluster(logDir: string, n: number): Promise<string> {
  const ports = await freePorts(n);
  mkdirSync(logDir, { recursive: true });
  const file = join(logDir, "cluster.json");
  writeFileSync(file, JSON.stringify(ports.map((p) => `127.0.0.1:${p}`)) + "\n");
  return file;
}

/** The files every rank of a run reads: the cluster file and, if the run has one, the secret. */
export interface ClusterFiles {
  cluster: string;
  secret?: string;
}

/** A new cluster secret, 32 random bytes in <dir>/cluster.secret, readable by this user only. */
function writeSecret(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "cluster.secret");
  rmSync(file, { force: true });
  writeFileSync(file, randomBytes(32), { mode: 0o600, flag: "wx" });
  return file;
}

/** The cluster file (free ports on 127.0.0.1) and a new secret, in dir. */
export async function writeClusterFiles(dir: string, n: number): Promise<ClusterFiles> {
  return { cluster: await writeCluster(dir, n), secret: writeSecret(dir) };
}

/** Where rank `rank` writes its log in logDir (the rank command's --log-dir). */
export function logPath(logDir: string, rank: number): string {
  return join(logDir, `rank-${rank}.log`);
}

export function statusPath(logDir: string, rank: number): string {
  return join(logDir, `rank-${rank}.status.json`);
}

export function spawnRank(
  rank: number,
  files: ClusterFiles,
  logDir: string,
  rankArgs: string[],
): ChildProcess {
  const { cmd, args } = rankEntry();
  const secret = files.secret !== undefined ? ["--cluster-secret", files.secret] : [];
  return spawn(
    cmd,
    [
      ...args,
      "-i",
      String(rank),
      "--cluster",
      files.cluster,
      ...secret,
      "--log-dir",
      logDir,
      ...rankArgs,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}

export function waitExit(child: ChildProcess, rank: number): Promise<RankOutcome> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    child.once("close", (code, signal) =>
      resolve({ rank, pid: child.pid ?? -1, code, signal, stdout, stderr }),
    );
  });
}

/** Run a whole cluster to completion. Every process started here is gone when this returns.
 * The ranks authenticate their frames with a secret made for the run, unless rankArgs already
 * say how (--cluster-secret or --insecure). */
export async function runCluster(opts: ClusterOptions): Promise<RankOutcome[]> {
  const own = opts.rankArgs.some((a) => /^--(cluster-secret|insecure)(=|$)/.test(a));
  const files = own
    ? { cluster: await writeCluster(opts.logDir, opts.n) }
    : await writeClusterFiles(opts.logDir, opts.n);
  const children: ChildProcess[] = [];
  const timer = setTimeout(
    () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")),
    opts.deadlineMs,
  );
  try {
    const outcomes: Promise<RankOutcome>[] = [];
    for (let i = 0; i < opts.n; i++) {
      const status = opts.statusFiles ? ["--status-file", statusPath(opts.logDir, i)] : [];
      const child = spawnRank(i, files, opts.logDir, [...opts.rankArgs, ...status]);
      children.push(child);
      outcomes.push(waitExit(child, i));
    }
    opts.onSpawn?.(children.map((c) => c.pid ?? -1));
    return await Promise.all(outcomes);
  } finally {
    clearTimeout(timer);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }
}
