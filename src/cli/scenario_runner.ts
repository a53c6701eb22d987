// Runs one fault scenario on real rank processes (127.0.0.1, free ports from the OS): starts the
// ranks, plays the scenario's script of faults (SIGSTOP/SIGCONT, kill -9 and restart with the same
// command, a partition file, a late start), waits for every rank to finish, then runs the checker
// (as its own program) on the logs. Every process started here is stopped by PID before returning.
import { execFile, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnRank, waitExit, writeCluster, type RankOutcome } from "./launch.js";

export interface Scenario {
  name: string;
  n: number;
  /** Flags for every rank (besides -i, --cluster, --log-dir, --partition-file). */
  args: string[];
  /** Ranks not started at the beginning (the script starts them). */
  lateRanks?: number[];
  script(ctx: ScenarioCtx): Promise<void>;
}

export interface ScenarioResult {
  name: string;
  pass: boolean;
  commits: number[];
  /** ms from the marked fault to the first commit of an instance generated after it (the cluster
   * serves new work again), if the scenario marked one. */
  faultToCommitMs: number | null;
  problems: string[];
  seconds: number;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowUs = () => Math.floor((performance.timeOrigin + performance.now()) * 1000);

export class ScenarioCtx {
  readonly children: (ChildProcess | null)[];
  readonly exits: Promise<RankOutcome>[] = [];
  readonly problems: string[] = [];
  faultAtUs: number | null = null;
  private readonly partitionFile: string;

  constructor(
    readonly s: Scenario,
    readonly dir: string,
    readonly clusterFile: string,
  ) {
    this.children = new Array<ChildProcess | null>(s.n).fill(null);
    this.partitionFile = join(dir, "partition.json");
  }

  start(rank: number): void {
    const child = spawnRank(rank, this.clusterFile, this.dir, [...this.s.args, "--partition-file", this.partitionFile]);
    this.children[rank] = child;
    this.exits.push(waitExit(child, rank));
  }

  /** kill -9: no chance to flush or say goodbye. */
  kill(rank: number): void {
    this.children[rank]?.kill("SIGKILL");
    this.children[rank] = null;
  }

  pause(rank: number): void {
    this.children[rank]?.kill("SIGSTOP");
  }

  resume(rank: number): void {
    this.children[rank]?.kill("SIGCONT");
  }

  partition(groups: number[][]): void {
    const tmp = `${this.partitionFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(groups));
    renameSync(tmp, this.partitionFile);
  }

  heal(): void {
    rmSync(this.partitionFile, { force: true });
  }

  /** Wait until every running rank has logged at least count commits (the cluster is at work). */
  async waitCommits(count: number, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const running = this.children.flatMap((c, r) => (c ? [r] : []));
      if (running.every((r) => countCommits(this.logPath(r)) >= count)) return;
      if (Date.now() > until) return this.fail(`the cluster did not reach ${count} commits in ${timeoutMs / 1000} s`);
      await sleep(50);
    }
  }

  /** Remember now as the moment of the fault whose recovery time is reported. */
  markFault(): void {
    this.faultAtUs = nowUs();
    writeFileSync(join(this.dir, "fault-at-us.txt"), `${this.faultAtUs}\n`);
  }

  /** The rank whose instance was committed last (the leader of the latest round), per rank 0..n-1's logs. */
  currentLeader(): number {
    let best = { at: -1, rank: 0 };
    for (let r = 0; r < this.s.n; r++) {
      const last = lastCommit(this.logPath(r));
      if (last && last.at > best.at) best = last;
    }
    return best.rank;
  }

  logPath(rank: number): string {
    return join(this.dir, `rank-${rank}.log`);
  }

  fail(problem: string): void {
    this.problems.push(problem);
  }

  stopAll(): void {
    for (const c of this.children) {
      if (!c || c.exitCode !== null || c.signalCode !== null) continue;
      c.kill("SIGCONT");
      c.kill("SIGKILL");
    }
  }
}

function countCommits(path: string): number {
  try {
    return readFileSync(path, "utf8").split("\ncommit ").length - 1;
  } catch {
    return 0;
  }
}

function lastCommit(path: string): { at: number; rank: number } | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  const i = text.lastIndexOf("commit Instance[");
  const m = i < 0 ? null : /^commit Instance\[(\d+)-\d+\] in seq \d+ at (\d+)/.exec(text.slice(i));
  return m ? { at: Number(m[2]), rank: Number(m[1]) } : null;
}

/** Commit timestamps (µs) in one log file. */
export function commitTimes(path: string): number[] {
  const times: number[] = [];
  for (const m of readFileSync(path, "utf8").matchAll(/^commit Instance\[[^\]]*\] in seq \d+ at (\d+)$/gm)) times.push(Number(m[1]));
  return times;
}

function checkerEntry(): string[] {
  const isTs = import.meta.url.endsWith(".ts");
  const entry = fileURLToPath(new URL(isTs ? "../../checker/cli.ts" : "../../checker/cli.js", import.meta.url));
  return [...(isTs ? ["--import", "tsx"] : []), entry];
}

interface CheckerSummary {
  pass: boolean;
  ranks: { rank: number; commits: number }[];
  rules: Record<string, { pass: boolean; violations: string[] }>;
}

function runChecker(dir: string, n: number): Promise<CheckerSummary | string> {
  const json = join(dir, "check.json");
  const logs = Array.from({ length: n }, (_, r) => join(dir, `rank-${r}.log`));
  return new Promise((resolve) => {
    execFile(process.execPath, [...checkerEntry(), "--json", json, ...logs], { timeout: 120_000 }, (err, stdout, stderr) => {
      try {
        resolve(JSON.parse(readFileSync(json, "utf8")) as CheckerSummary);
      } catch {
        resolve(`checker failed: ${stderr.trim() || stdout.trim() || String(err)}`);
      }
    });
  });
}

export async function runScenario(s: Scenario, baseDir: string, deadlineMs: number): Promise<ScenarioResult> {
  const t0 = Date.now();
  const dir = join(baseDir, s.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ctx = new ScenarioCtx(s, dir, await writeCluster(dir, s.n));
  const deadline = setTimeout(() => {
    ctx.fail(`still running after ${deadlineMs / 1000} s: stopped`);
    ctx.stopAll();
  }, deadlineMs);
  try {
    for (let r = 0; r < s.n; r++) if (!s.lateRanks?.includes(r)) ctx.start(r);
    await s.script(ctx);
    // Every process started (restarts included) must end on its own, converged.
    for (let settled = 0; settled < ctx.exits.length; settled = ctx.exits.length) await Promise.all(ctx.exits.slice(settled));
    const finals = await Promise.all(ctx.exits);
    for (let r = 0; r < s.n; r++) {
      const last = [...finals].reverse().find((o) => o.rank === r);
      if (!last) ctx.fail(`rank ${r} never ran`);
      else if (last.code !== 0) ctx.fail(`rank ${r} ended with ${last.signal ?? `exit code ${last.code}`}: ${last.stderr.trim().split("\n").pop() ?? ""}`);
      else if (!last.stdout.includes("converged;")) ctx.fail(`rank ${r} did not converge: ${last.stdout.trim()}`);
    }
  } finally {
    clearTimeout(deadline);
    ctx.stopAll();
  }
  const check = await runChecker(dir, s.n);
  if (typeof check === "string") ctx.fail(check);
  else if (!check.pass) {
    for (const [rule, v] of Object.entries(check.rules)) if (!v.pass) ctx.fail(`${rule}: ${v.violations[0] ?? "violated"}`);
  }
  return {
    name: s.name,
    pass: ctx.problems.length === 0,
    commits: typeof check === "string" ? [] : check.ranks.map((r) => r.commits),
    faultToCommitMs: faultToCommit(ctx),
    problems: ctx.problems,
    seconds: (Date.now() - t0) / 1000,
  };
}

function faultToCommit(ctx: ScenarioCtx): number | null {
  const fault = ctx.faultAtUs;
  if (fault === null) return null;
  const generatedAt = new Map<string, number>();
  const texts = Array.from({ length: ctx.s.n }, (_, r) => readFileSync(ctx.logPath(r), "utf8"));
  for (const text of texts) {
    for (const m of text.matchAll(/^generate Instance\[([^\]]*)\] in seq \d+ at (\d+)$/gm)) generatedAt.set(m[1] as string, Number(m[2]));
  }
  let first = Infinity;
  for (const text of texts) {
    for (const m of text.matchAll(/^commit Instance\[([^\]]*)\] in seq \d+ at (\d+)$/gm)) {
      const t = Number(m[2]);
      if (t > fault && t < first && (generatedAt.get(m[1] as string) ?? 0) > fault) first = t;
    }
  }
  return first === Infinity ? null : (first - fault) / 1000;
}
