// `npm run bench [-- --quick | --point ranks:rate[:nofsync] | --payload [ranks:bytes:rate] | --long | --report]`:
// real rank processes on 127.0.0.1, a sweep of offered load for 3 and 5 ranks (durability on, plus
// --no-fsync at the top of the sweep), 3 runs a point, the checker on every run, and in the same
// run the messaging limit (bench_limit.ts) and the old log-writing ceiling; then the payload table
// (bench_payload.ts: commands of 16 B, 1 KiB and 64 KiB through Rank.submit). Definitions of every
// figure: bench_measure.ts. Prints the tables and writes bench/results.json and bench/results.md.
import { checkerEntry } from "./scenario_runner.js";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, measurePoint, usageOf } from "./bench_measure.js";
import { longReport, longRun, writeLong } from "./bench_long.js";
import { payloadSweep, renderPayload, type PayloadPoint } from "./bench_payload.js";
import { renderResults, sustained, type Limits, type Point, type Results } from "./bench_report.js";
import { logPath, RANK_NODE_FLAGS, runCluster, writeClusterFiles } from "../cli/launch.js";

const WARM_S = 3;
const WINDOW_S = 5;
// With shared rounds every rank is served in every round, so -l only sets how often leadership
// rotates; each rotation costs a read with its fsyncs. At -l 1000, 5 ranks fell behind near 30-35k/s
// (rounds run one after another); -l 10000 kept up with 60k/s offered.
const L = 10_000;
const EXTRA_STEPS = 4;
const dist = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function rankArgs(rate: number, fsync: boolean, seconds: number): string[] {
  return [
    "-o",
    "100",
    "-l",
    String(L),
    "-t",
    String(seconds),
    "--rate",
    String(rate),
    "--grace",
    "60",
    ...(fsync ? [] : ["--no-fsync"]),
  ];
}

function checkerPasses(dir: string, n: number): boolean {
  const logs = Array.from({ length: n }, (_, r) => logPath(dir, r));
  try {
    execFileSync(process.execPath, [...checkerEntry(), ...logs], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function runPoint(
  ranks: number,
  rate: number,
  fsync: boolean,
  repeats: number,
): Promise<Point> {
  const point: Point = {
    ranks,
    ratePerRank: rate,
    fsync,
    args: rankArgs(rate, fsync, WARM_S + WINDOW_S).join(" "),
    runs: [],
    cpuS: NaN,
    rssMb: NaN,
    checked: true,
  };
  const cpu: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const dir = join("bench", "tmp", `${ranks}r-${rate}-${fsync ? "fsync" : "nofsync"}-${i}`);
    rmSync(dir, { recursive: true, force: true });
    const outcomes = await runCluster({
      n: ranks,
      logDir: dir,
      rankArgs: rankArgs(rate, fsync, WARM_S + WINDOW_S),
      deadlineMs: 120_000,
      statusFiles: true,
    });
    point.checked &&= outcomes.every((o) => o.code === 0) && checkerPasses(dir, ranks);
    point.runs.push(measurePoint(dir, ranks, WARM_S, WINDOW_S));
    for (const o of outcomes) {
      const u = usageOf(o.stdout);
      cpu.push(u.cpuS);
      rss.push(u.rssMb);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  point.cpuS = median(cpu);
  point.rssMb = Math.max(...rss);
  return point;
}

/** N writer processes at once, each writing its share of generate lines and every commit line. */
async function ceiling(ranks: number): Promise<number> {
  const dir = join("bench", "tmp", `ceiling-${ranks}`);
  mkdirSync(dir, { recursive: true });
  const rates = await Promise.all(
    Array.from(
      { length: ranks },
      (_, r) =>
        new Promise<number>((resolve) => {
          const child = spawn(process.execPath, [
            dist("./ceiling.js"),
            String(r),
            String(ranks),
            "3",
            logPath(dir, r),
          ]);
          let out = "";
          child.stdout.on("data", (d: Buffer) => (out += d.toString()));
          child.on("close", () => resolve(Number(out.trim())));
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
  return Math.min(...rates);
}

/** One messaging-limit run (bench_limit.ts): N processes, rank 0 leads; the slowest rank's
 * commits per second in its window, or NaN if the run did not finish. */
async function limitOnce(ranks: number, fsync: boolean): Promise<number> {
  const dir = join("bench", "tmp", `limit-${ranks}-${fsync ? "fsync" : "nofsync"}`);
  rmSync(dir, { recursive: true, force: true });
  const files = await writeClusterFiles(dir, ranks);
  const children: ChildProcess[] = [];
  try {
    const outputs = Array.from({ length: ranks }, (_, r) => {
      const args = [
        ...RANK_NODE_FLAGS,
        dist("./bench_limit.js"),
        String(r),
        files.cluster,
        String(WARM_S),
        String(WINDOW_S),
        dir,
        fsync ? "1" : "0",
        files.secret ?? "",
      ];
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
      children.push(child);
      let out = "";
      child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      return new Promise<number>((resolve) =>
        child.once("close", () => resolve(Number(out.trim() || NaN))),
      );
    });
    const timeout = new Promise<number[]>((resolve) => setTimeout(() => resolve([NaN]), 60_000));
    return Math.min(...(await Promise.race([Promise.all(outputs), timeout])));
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Three limit runs; a run that did not finish is reported and left out. */
async function messagingLimit(ranks: number, fsync: boolean): Promise<number[]> {
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) {
    const rate = await limitOnce(ranks, fsync);
    if (Number.isFinite(rate)) rates.push(rate);
    else
      process.stderr.write(
        `bench: a messaging-limit run (${ranks} ranks, fsync ${fsync ? "on" : "off"}) did not finish; left out\n`,
      );
  }
  return rates;
}

/** The limit is measured before and after a sweep: the VM's speed drifts over 10 minutes. */
async function measureLimits(limits: Limits, ranks: number): Promise<void> {
  const l = (limits[ranks] ??= { fsync: [], nofsync: [] });
  l.fsync.push(...(await messagingLimit(ranks, true)));
  l.nofsync.push(...(await messagingLimit(ranks, false)));
}

/** `--point 5:4000` or `--point 3:8000:nofsync`: measure one point only. */
function pointArg(): { ranks: number; rate: number; fsync: boolean } | null {
  const i = process.argv.indexOf("--point");
  if (i < 0) return null;
  const m = /^(\d+):(\d+)(:nofsync)?$/.exec(process.argv[i + 1] ?? "");
  if (!m) throw new Error("--point wants ranks:rate or ranks:rate:nofsync, e.g. --point 5:4000");
  return { ranks: Number(m[1]), rate: Number(m[2]), fsync: m[3] === undefined };
}

/** The listed loads, then 25% more at a time while every run keeps up (at most EXTRA_STEPS more,
 * never past the messaging limit): the sweep ends at saturation, not at a guess. Then the last
 * load once more without fsync. */
async function sweep(
  ranks: number,
  rates: readonly number[],
  repeats: number,
  limit: number,
): Promise<Point[]> {
  const points: Point[] = [];
  for (const rate of rates) points.push(await runPoint(ranks, rate, true, repeats));
  let rate = rates[rates.length - 1] ?? 1000;
  for (
    let extra = 0;
    extra < EXTRA_STEPS && points.length > 0 && sustained(points[points.length - 1] as Point);
    extra++
  ) {
    const next = Math.round((rate * 1.25) / 1000) * 1000;
    if (next * ranks > limit) break;
    rate = next;
    points.push(await runPoint(ranks, rate, true, repeats));
  }
  points.push(await runPoint(ranks, rate, false, repeats));
  return points;
}

/** --long: the memory check (bench/long.{md,json}). */
async function mainLong(): Promise<number> {
  const r = await longRun(checkerPasses);
  process.stdout.write(longReport(r));
  mkdirSync("bench", { recursive: true });
  writeLong(r);
  return r.pass ? 0 : 1;
}

/** The results of a full run, kept in bench/results.{md,json}. */
function writeResults(table: string, results: Results): void {
  mkdirSync("bench", { recursive: true });
  writeFileSync(
    join("bench", "results.md"),
    table +
      `\nReproduce a row: npx yasp-cluster -n <ranks> --log-dir logs/bench -- <args>; args of each row are in results.json.\n`,
  );
  writeFileSync(join("bench", "results.json"), JSON.stringify(results, null, 2) + "\n");
}

const payloadConfig = {
  warmS: WARM_S,
  windowS: WINDOW_S,
  rankArgs: (rate: number) => rankArgs(rate, true, WARM_S + WINDOW_S),
  checkerPasses,
};

/** `--payload` alone: the payload table only; `--payload 3:1024:8000`: one point of it. */
async function mainPayload(): Promise<number> {
  const arg = process.argv[process.argv.indexOf("--payload") + 1] ?? "";
  const m = /^(\d+):(\d+):(\d+)$/.exec(arg);
  if (arg !== "" && !arg.startsWith("--") && !m)
    throw new Error("--payload wants nothing or ranks:bytes:rate, e.g. --payload 3:1024:8000");
  const only = m ? { ranks: Number(m[1]), payload: Number(m[2]), rate: Number(m[3]) } : undefined;
  const points = await payloadSweep(payloadConfig, only);
  process.stdout.write(renderPayload(points));
  // The whole payload sweep replaces the payload table of the saved results (the rest stays).
  const saved = join("bench", "results.json");
  if (!only && existsSync(saved)) {
    const results = JSON.parse(readFileSync(saved, "utf8")) as Results & { payload?: unknown };
    const updated = { ...results, payload: points };
    writeResults(renderResults(updated, true) + renderPayload(points), updated);
  }
  return points.every((p) => p.checked) ? 0 : 1;
}

async function main(): Promise<number> {
  if (process.argv.includes("--long")) return mainLong();
  if (process.argv.includes("--payload")) return mainPayload();
  if (process.argv.includes("--report")) {
    const saved = JSON.parse(readFileSync(join("bench", "results.json"), "utf8")) as Results & {
      payload?: PayloadPoint[];
    };
    process.stdout.write(renderResults(saved, true));
    if (saved.payload) process.stdout.write(renderPayload(saved.payload));
    return 0;
  }
  const quick = process.argv.includes("--quick");
  const only = pointArg();
  const repeats = quick || only ? 1 : 3;
  const sweeps: Record<number, number[]> = quick
    ? { 3: [2000, 8000], 5: [1000, 4000] }
    : {
        3: [1000, 4000, 8000, 16000, 24000, 32000, 40000],
        5: [500, 2000, 4000, 8000, 12000, 16000],
      };
  const points: Point[] = [];
  const ceilings: Record<number, number> = {};
  const limits: Limits = {};
  for (const ranks of only ? [only.ranks] : [3, 5]) {
    await measureLimits(limits, ranks);
    if (only) {
      points.push(await runPoint(ranks, only.rate, only.fsync, repeats));
      continue;
    }
    ceilings[ranks] = await ceiling(ranks);
    points.push(
      ...(await sweep(
        ranks,
        sweeps[ranks] ?? [],
        repeats,
        quick ? 0 : median(limits[ranks]?.fsync ?? []),
      )),
    );
    if (!quick) await measureLimits(limits, ranks);
  }
  // The payload table, after the sweeps (a point or a quick look leaves it out).
  const payload = only || quick ? [] : await payloadSweep(payloadConfig);
  const results: Results & { payload: PayloadPoint[] } = {
    warmS: WARM_S,
    windowS: WINDOW_S,
    repeats,
    l: L,
    limits,
    ceilings,
    points,
    payload,
  };
  const table =
    renderResults(results, only === null) + (payload.length > 0 ? renderPayload(payload) : "");
  process.stdout.write(table);
  // --quick and --point are for a quick look: print, and keep the results of the last full run.
  if (!only && !quick) writeResults(table, results);
  return points.every((p) => p.checked) && payload.every((p) => p.checked) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
