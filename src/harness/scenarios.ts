// `npm run scenarios [-- --long] [-- --only name,name]`: the fault matrix on real processes.
// One line per scenario: name, pass/FAIL, commits per rank, time from the fault to the next
// commit of new work (where the scenario has one fault to time). Every fault is confirmed from the
// logs, the status files and the summary lines (scenario_checks.ts): a fault that did not take
// effect fails its scenario.
import { join } from "node:path";
import { nowUs, sleep, type Scenario, type ScenarioCtx } from "./scenario_ctx.js";
import { runScenario, type ScenarioResult } from "./scenario_runner.js";
import { stateScenarios } from "./scenarios_state.js";

interface Pace {
  /** Seconds of generation per rank. */
  t: number;
  /** Length of a fault. */
  faultMs: number;
}

const base = (pace: Pace, extra: string[] = [], perRound = 200) => [
  "-o",
  "100",
  "-l",
  String(perRound),
  "-t",
  String(pace.t),
  "--rate",
  "200",
  "--grace",
  "60",
  ...extra,
];

async function pauseFor(ctx: ScenarioCtx, ranks: number[], ms: number): Promise<void> {
  ranks.forEach((r) => ctx.pause(r));
  ctx.markFault();
  await sleep(ms);
  ranks.forEach((r) => ctx.resume(r));
}

function matrix(pace: Pace): Scenario[] {
  return [...frameFaultScenarios(pace), ...processFaultScenarios(pace), ...stateScenarios(pace)];
}

/** No faults, then faults injected into the frames by the ranks' own flags. */
function frameFaultScenarios(pace: Pace): Scenario[] {
  const quiet = async () => {};
  const list: Scenario[] = [];
  for (const n of [3, 5]) {
    list.push({ name: `normal-${n}`, n, args: base(pace), script: quiet });
    list.push({
      name: `delay-1-30ms-${n}`,
      n,
      args: base(pace, ["--delay", "1-30", "--seed", String(n)]),
      script: quiet,
    });
    list.push({
      name: `drop-10pct-${n}`,
      n,
      args: base(pace, ["--drop", "0.1", "--seed", String(n)]),
      script: quiet,
    });
    list.push({
      name: `drop-30pct-${n}`,
      n,
      args: base(pace, ["--drop", "0.3", "--seed", String(n)]),
      script: quiet,
    });
  }
  list.push({
    name: "dup-20pct-5",
    n: 5,
    args: base(pace, ["--dup", "0.2", "--seed", "9"]),
    script: quiet,
  });
  return list;
}

/** Faults done to the rank processes and their links: pause, kill, late start, partition. */
function processFaultScenarios(pace: Pace): Scenario[] {
  const list: Scenario[] = [];
  // SIGSTOP some ranks for the fault time once the run is under way, then SIGCONT them.
  const pausing = (name: string, ranks: number[]): Scenario => ({
    name,
    n: 5,
    args: base(pace),
    script: async (ctx) => {
      await ctx.waitCommits(300);
      await pauseFor(ctx, ranks, pace.faultMs);
    },
  });
  list.push(pausing("pause-one-of-5", [2]), pausing("pause-two-of-5", [1, 3]));
  // The leader as the ranks report it (status files), killed with kill -9 and restarted with the
  // same command. -l 10000: one rank keeps leading until it is killed (at -l 200 leadership moves
  // every ~200 ms, about as often as a status file is rewritten, so no pick could be sure to hit
  // the leader); the others must notice the silence and elect another.
  list.push({
    name: "kill-leader-5",
    n: 5,
    args: base(pace, [], 10_000),
    script: (ctx) => killLeader(ctx, pace),
  });
  list.push({
    name: "late-start-5",
    n: 5,
    args: base(pace),
    lateRanks: [4],
    script: (ctx) => ctx.startLate(4, 2000), // thousands committed without it (checked: each of the others)
  });
  list.push({
    name: "kill-three-of-5",
    n: 5,
    args: base(pace),
    script: (ctx) => killThree(ctx, pace),
  });
  list.push({
    name: "partition-minority-5",
    n: 5,
    args: base(pace),
    script: async (ctx) => {
      await ctx.waitCommits(300);
      ctx.partition([
        [0, 1, 2],
        [3, 4],
      ]);
      ctx.markFault();
      await sleep(pace.faultMs);
      ctx.heal();
    },
  });
  return list;
}

/** Once the cluster is at work, kill -9 its leader; restart it after the fault time. */
async function killLeader(ctx: ScenarioCtx, pace: Pace): Promise<void> {
  await ctx.waitCommits(300);
  const leader = await ctx.findLeader();
  if (!leader) return;
  const dead = ctx.kill(leader.rank, leader.round);
  ctx.markFault();
  await dead;
  await sleep(pace.faultMs);
  ctx.start(leader.rank); // the same command: it recovers from its WAL and log
}

/**
 * Kill 2, 3, 4: ranks 0 and 1 must commit nothing new until they are back, and the instances they
 * generate meanwhile must wait for the restart (so the quiet is not for want of work).
 */
async function killThree(ctx: ScenarioCtx, pace: Pace): Promise<void> {
  await ctx.waitCommits(300);
  const gone = [2, 3, 4].map((r) => ctx.kill(r));
  const killedAtUs = nowUs();
  ctx.markFault();
  await Promise.all(gone);
  await sleep(pace.faultMs);
  // Values chosen just before the kill may still be applied for a moment: allow 300 ms.
  ctx.expectQuiet([0, 1], killedAtUs + 300_000, nowUs(), "with a majority down", true);
  for (const r of [2, 3, 4]) ctx.start(r);
}

function line(r: ScenarioResult): string {
  const fault =
    (r.faultToCommitMs === null ? "" : `  fault->commit ${r.faultToCommitMs.toFixed(0)} ms`) +
    r.notes.map((n) => `  ${n}`).join("");
  const why = r.pass ? "" : `  (${r.problems.slice(0, 3).join("; ")})`;
  return `${r.name.padEnd(22)} ${r.pass ? "pass" : "FAIL"}  commits ${r.commits.join(",")}${fault}  [${r.seconds.toFixed(1)} s]${why}`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const long = argv.includes("--long");
  const onlyAt = argv.indexOf("--only");
  const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? "").split(",") : null;
  const pace: Pace = long ? { t: 30, faultMs: 8000 } : { t: 4, faultMs: 2500 };
  const list = matrix(pace).filter((s) => !only || only.includes(s.name));
  if (list.length === 0) {
    process.stderr.write(`scenarios: no scenario named ${only?.join(",")}\n`);
    return 2;
  }
  let failed = 0;
  for (const s of list) {
    const r = await runScenario(s, join("logs", "scenarios"), (pace.t + 120) * 1000);
    if (!r.pass) failed++;
    process.stdout.write(line(r) + "\n");
  }
  process.stdout.write(`${list.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`scenarios: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
