// Runs one fault scenario on real rank processes (127.0.0.1, free ports from the OS): starts the
// ranks, plays the scenario's script of faults (scenario_ctx.ts), waits for every rank to finish,
// confirms from the logs, the status files and the summary lines that every fault took effect
// (scenario_checks.ts), or the scenario fails, then runs the checker (as its own program) on the
// logs. Every process started here is stopped by PID before returning.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { logPath, writeClusterFiles } from "../cli/launch.js";
import { confirmAll } from "./scenario_checks.js";
import { nowUs, ScenarioCtx, type Scenario } from "./scenario_ctx.js";
import { parseLog, type LogTimes } from "./scenario_evidence.js";
import { rejoinNotes } from "./scenario_state.js";

export interface ScenarioResult {
  name: string;
  pass: boolean;
  commits: number[];
  /** ms from the marked fault to the first commit of an instance generated after it (the cluster
   * serves new work again), if the scenario marked one. */
  faultToCommitMs: number | null;
  problems: string[];
  /** What else the line says (e.g. how long a wiped rank took to install a snapshot). */
  notes: string[];
  seconds: number;
}

function readLog(path: string): LogTimes {
  try {
    return parseLog(readFileSync(path, "utf8"));
  } catch {
    return parseLog("");
  }
}

/** How to run the checker as its own program (under tsx when this file runs as TypeScript). */
export function checkerEntry(): string[] {
  const isTs = import.meta.url.endsWith(".ts");
  const entry = fileURLToPath(
    new URL(isTs ? "../../checker/cli.ts" : "../../checker/cli.js", import.meta.url),
  );
  return [...(isTs ? ["--import", "tsx"] : []), entry];
}

interface CheckerSummary {
  pass: boolean;
  ranks: { rank: number; commits: number }[];
  rules: Record<string, { pass: boolean; violations: string[] }>;
}

function runChecker(dir: string, n: number): Promise<CheckerSummary | string> {
  const json = join(dir, "check.json");
  const logs = Array.from({ length: n }, (_, r) => logPath(dir, r));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...checkerEntry(), "--json", json, ...logs],
      { timeout: 120_000 },
      (err, stdout, stderr) => {
        try {
          resolve(JSON.parse(readFileSync(json, "utf8")) as CheckerSummary);
        } catch {
          // Error's own toString, spelled out (the exec error's type hides it); null: it exited 0.
          const error = err === null ? "exit 0 and no summary" : `${err.name}: ${err.message}`;
          resolve(`checker failed: ${stderr.trim() || stdout.trim() || error}`);
        }
      },
    );
  });
}

export async function runScenario(
  s: Scenario,
  baseDir: string,
  deadlineMs: number,
): Promise<ScenarioResult> {
  const t0 = Date.now();
  const dir = join(baseDir, s.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The ranks authenticate peer frames with a secret made for this scenario (in its directory).
  const ctx = new ScenarioCtx(s, dir, await writeClusterFiles(dir, s.n));
  const deadline = setTimeout(() => {
    ctx.fail(`still running after ${deadlineMs / 1000} s: stopped`);
    ctx.stopAll();
  }, deadlineMs);
  let summaries: (string | undefined)[];
  try {
    ctx.startPolling();
    for (let r = 0; r < s.n; r++) if (!s.lateRanks?.includes(r)) ctx.start(r);
    await s.script(ctx);
    summaries = await awaitRanks(ctx);
  } finally {
    clearTimeout(deadline);
    ctx.stopAll();
    ctx.stopPolling();
  }
  ctx.pollStatuses(); // the statuses written at exit
  const logs = Array.from({ length: s.n }, (_, r) => readLog(ctx.logPath(r)));
  confirmFaults(ctx, logs, summaries);
  const check = await runChecker(dir, s.n);
  if (typeof check === "string") ctx.fail(check);
  else if (!check.pass) {
    for (const [rule, v] of Object.entries(check.rules))
      if (!v.pass) ctx.fail(`${rule}: ${v.violations[0] ?? "violated"}`);
  }
  return {
    name: s.name,
    pass: ctx.problems.length === 0,
    commits: typeof check === "string" ? [] : check.ranks.map((r) => r.commits),
    faultToCommitMs: faultToCommit(ctx.faultAtUs, logs),
    problems: ctx.problems,
    notes: rejoinNotes(ctx.record.wipes, logs),
    seconds: (Date.now() - t0) / 1000,
  };
}

/**
 * Wait until every process started (restarts included) has ended: each rank's last life must end
 * on its own, converged. Returns the summary line of each rank's last life (undefined: none).
 */
async function awaitRanks(ctx: ScenarioCtx): Promise<(string | undefined)[]> {
  const summaries: (string | undefined)[] = new Array<string | undefined>(ctx.s.n).fill(undefined);
  for (let settled = 0; settled < ctx.exits.length; settled = ctx.exits.length)
    await Promise.all(ctx.exits.slice(settled));
  const finals = await Promise.all(ctx.exits);
  for (let r = 0; r < ctx.s.n; r++) {
    const last = [...finals].reverse().find((o) => o.rank === r);
    if (!last) ctx.fail(`rank ${r} never ran`);
    else if (last.code !== 0)
      ctx.fail(
        `rank ${r} ended with ${last.signal ?? `exit code ${last.code}`}: ${last.stderr.trim().split("\n").pop() ?? ""}`,
      );
    else if (!last.stdout.includes("converged;"))
      ctx.fail(`rank ${r} did not converge: ${last.stdout.trim()}`);
    summaries[r] = last?.stdout
      .trim()
      .split("\n")
      .find((l) => l.startsWith(`rank ${r}: `));
  }
  return summaries;
}

/** Confirm every fault the script recorded (a problem fails the scenario); kept in faults.json. */
function confirmFaults(
  ctx: ScenarioCtx,
  logs: readonly LogTimes[],
  summaries: readonly (string | undefined)[],
): void {
  const confirmed = confirmAll(ctx.record, {
    n: ctx.s.n,
    args: ctx.s.args,
    logs,
    histories: ctx.histories,
    summaries,
    endUs: nowUs(),
  });
  writeFileSync(
    join(ctx.dir, "faults.json"),
    JSON.stringify({ ...ctx.record, problems: confirmed }, null, 1) + "\n",
  );
  for (const p of confirmed) ctx.fail(p);
}

/** ms from the fault to the first commit (on any rank) of an instance generated after it. */
export function faultToCommit(faultUs: number | null, logs: readonly LogTimes[]): number | null {
  if (faultUs === null) return null;
  const generatedAt = new Map<string, number>();
  for (const l of logs) for (const [id, t] of l.generated) generatedAt.set(id, t);
  let first = Infinity;
  for (const l of logs) {
    for (const c of l.commits)
      if (c.atUs > faultUs && c.atUs < first && (generatedAt.get(c.id) ?? 0) > faultUs)
        first = c.atUs;
  }
  return first === Infinity ? null : (first - faultUs) / 1000;
}
