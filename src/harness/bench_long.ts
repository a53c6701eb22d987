// `npm run bench -- --long`: the memory check. A 5-rank cluster commits 1,000,000 instances (20,000/s
// for 50 s, durability on); every rank's RSS is sampled each second by PID, and the ranks report
// their peak RSS when they exit. The target: every rank at most 150 MB, which needs compaction of
// the commit log and the acceptors' logs to work. The checker runs on the logs.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCluster } from "../cli/launch.js";
import { usageOf } from "./bench_measure.js";

const RANKS = 5;
const RATE = 4000;
const SECONDS = 50;
const TARGET_MB = 150;

export interface LongResult {
  ranks: number;
  commitsPerRank: number[];
  seconds: number;
  /** [seconds since start, RSS MB of each rank] once a second. */
  samples: Array<[number, number[]]>;
  peakRssMb: number[];
  lastRssMb: number[];
  checked: boolean;
  pass: boolean;
  args: string;
}

/** Resident set size of a process in MB (Linux /proc; NaN elsewhere or once it is gone). */
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** What a long run runs on: real rank processes and the real clock, or fakes in a test. */
export interface LongRunDeps {
  runCluster: typeof runCluster;
  now: () => number;
  dir: string;
}

const REAL_DEPS: LongRunDeps = {
  runCluster,
  now: () => Date.now(),
  dir: join("bench", "tmp", "long"),
};

export async function longRun(
  checkerPasses: (dir: string, n: number) => boolean,
  deps: LongRunDeps = REAL_DEPS,
): Promise<LongResult> {
  const { dir, now: clock } = deps;
  rmSync(dir, { recursive: true, force: true });
  const rankArgs = [
    "-o",
    "100",
    "-l",
    "10000",
    "-t",
    String(SECONDS),
    "--rate",
    String(RATE),
    "--grace",
    "60",
  ];
  const samples: LongResult["samples"] = [];
  const last: number[] = new Array<number>(RANKS).fill(NaN);
  const started = clock();
  let timer: NodeJS.Timeout | undefined;
  const outcomes = await deps.runCluster({
    n: RANKS,
    logDir: dir,
    rankArgs,
    deadlineMs: (SECONDS + 120) * 1000,
    onSpawn: (pids) => {
      timer = setInterval(() => {
        const now = pids.map(rssMb);
        now.forEach((mb, r) => Number.isFinite(mb) && (last[r] = mb));
        if (now.some(Number.isFinite))
          samples.push([Math.round((clock() - started) / 1000), now.map((x) => Math.round(x))]);
      }, 1000);
    },
  });
  clearInterval(timer);
  // The run ends when its last rank exits: the checker's own time (seconds on a million lines per
  // rank) is not the cluster's and must not stretch the duration reported next to the commits.
  const seconds = (clock() - started) / 1000;
  const checked = outcomes.every((o) => o.code === 0) && checkerPasses(dir, RANKS);
  rmSync(dir, { recursive: true, force: true });
  const peakRssMb = outcomes.map((o) => usageOf(o.stdout).rssMb);
  const commitsPerRank = outcomes.map((o) => Number(/committed (\d+)/.exec(o.stdout)?.[1] ?? NaN));
  const pass =
    checked &&
    peakRssMb.every((mb) => mb <= TARGET_MB) &&
    commitsPerRank.every((c) => c >= RANKS * RATE * SECONDS);
  return {
    ranks: RANKS,
    commitsPerRank,
    seconds,
    samples,
    peakRssMb,
    lastRssMb: last.map(Math.round),
    checked,
    pass,
    args: rankArgs.join(" "),
  };
}

export function longReport(r: LongResult): string {
  const every10 = r.samples.filter(([t], i) => t % 10 === 0 || i === r.samples.length - 1);
  return (
    [
      `yasp long run (memory): ${r.ranks} ranks, ${r.args}, fsync on, 127.0.0.1`,
      `commits per rank: ${r.commitsPerRank.join(", ")} in ${r.seconds.toFixed(0)} s; checker ${r.checked ? "pass" : "FAIL"}`,
      `peak RSS per rank (MB): ${r.peakRssMb.join(", ")}; last sample before exit: ${r.lastRssMb.join(", ")}; target <= ${TARGET_MB}: ${r.pass ? "pass" : "FAIL"}`,
      "",
      "| s | RSS MB per rank |",
      "|---|---|",
      ...every10.map(([t, mbs]) => `| ${t} | ${mbs.join(", ")} |`),
    ].join("\n") + "\n"
  );
}

export function writeLong(r: LongResult): void {
  writeFileSync(join("bench", "long.md"), longReport(r));
  writeFileSync(join("bench", "long.json"), JSON.stringify(r, null, 2) + "\n");
}
