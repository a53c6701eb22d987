// `npm run bench [-- --quick | --point ranks:rate[:nofsync] | --long]`: real rank processes on 127.0.0.1, a sweep of offered
// load for 3 and 5 ranks (durability on, plus --no-fsync at the top of the sweep), medians of 3 runs,
// the checker on every run, and the ceiling (the same processes writing the same lines with no
// messaging). Prints a table and writes bench/results.json and bench/results.md.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, measurePoint, usageOf, type PointFigures } from "./bench_measure.js";
import { longReport, longRun, writeLong } from "./bench_long.js";
import { runCluster } from "./launch.js";

interface Point {
  ranks: number;
  ratePerRank: number;
  fsync: boolean;
  args: string;
  runs: PointFigures[];
  cpuS: number;
  rssMb: number;
  checked: boolean;
}

const WARM_S = 3;
const WINDOW_S = 5;
// With shared rounds every rank is served in every round, so -l only sets how often leadership
// rotates; each rotation costs a read with its fsyncs. At -l 1000, 5 ranks fell behind near 30-35k/s
// (rounds run one after another); -l 10000 kept up with 60k/s offered.
const L = 10_000;
const dist = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function rankArgs(rate: number, fsync: boolean, seconds: number): string[] {
  return ["-o", "100", "-l", String(L), "-t", String(seconds), "--rate", String(rate), "--grace", "60", ...(fsync ? [] : ["--no-fsync"])];
}

function checkerPasses(dir: string, n: number): boolean {
  const logs = Array.from({ length: n }, (_, r) => join(dir, `rank-${r}.log`));
  try {
    execFileSync(process.execPath, [dist("../../checker/cli.js"), ...logs], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function runPoint(ranks: number, rate: number, fsync: boolean, repeats: number): Promise<Point> {
  const point: Point = { ranks, ratePerRank: rate, fsync, args: rankArgs(rate, fsync, WARM_S + WINDOW_S).join(" "), runs: [], cpuS: NaN, rssMb: NaN, checked: true };
  const cpu: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const dir = join("bench", "tmp", `${ranks}r-${rate}-${fsync ? "fsync" : "nofsync"}-${i}`);
    rmSync(dir, { recursive: true, force: true });
    const outcomes = await runCluster({ n: ranks, logDir: dir, rankArgs: rankArgs(rate, fsync, WARM_S + WINDOW_S), deadlineMs: 120_000 });
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
    Array.from({ length: ranks }, (_, r) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [dist("./ceiling.js"), String(r), String(ranks), "3", join(dir, `rank-${r}.log`)]);
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.on("close", () => resolve(Number(out.trim())));
      }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
  return Math.min(...rates);
}

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : "-");

function row(p: Point, ceil: number): string {
  const c = p.runs.map((r) => r.committedPerS);
  const med = (k: keyof PointFigures) => median(p.runs.map((r) => r[k]));
  return `| ${p.ranks} | ${p.fsync ? "on" : "off"} | ${fmt(med("offeredPerS"))} | ${fmt(median(c))} (${fmt(Math.min(...c))}-${fmt(Math.max(...c))}) | ${fmt(med("p50Ms"), 1)} | ${fmt(med("p99Ms"), 1)} | ${fmt(med("maxMs"), 1)} | ${fmt(p.cpuS, 1)} | ${fmt(p.rssMb)} | ${fmt(median(c) / ceil, 2)} | ${p.checked ? "pass" : "FAIL"} |`;
}

/** Per cluster size: the most committed/s sustained with fsync (committed within 5% of offered),
 * and the latency at the swept point nearest half of it (the latency target). */
function summaryLines(points: Point[]): string[] {
  const lines: string[] = [];
  for (const ranks of [3, 5]) {
    const fsynced = points.filter((p) => p.ranks === ranks && p.fsync && p.checked);
    const committed = (p: Point) => median(p.runs.map((r) => r.committedPerS));
    const offered = (p: Point) => median(p.runs.map((r) => r.offeredPerS));
    const sustained = fsynced.filter((p) => committed(p) >= 0.95 * offered(p));
    if (sustained.length === 0) continue;
    const max = Math.max(...sustained.map(committed));
    const half = [...fsynced].sort((a, b) => Math.abs(offered(a) - max / 2) - Math.abs(offered(b) - max / 2))[0] as Point;
    const p99 = median(half.runs.map((r) => r.p99Ms));
    lines.push(`${ranks} ranks: sustained up to ${fmt(max)} commits/s with fsync (the highest swept load kept up with); at ${fmt(offered(half))}/s offered (nearest half of it) p99 ${fmt(p99, 1)} ms`);
  }
  return lines;
}

/** `--point 5:4000` or `--point 3:8000:nofsync`: measure one point only. */
function pointArg(): { ranks: number; rate: number; fsync: boolean } | null {
  const i = process.argv.indexOf("--point");
  if (i < 0) return null;
  const m = /^(\d+):(\d+)(:nofsync)?$/.exec(process.argv[i + 1] ?? "");
  if (!m) throw new Error("--point wants ranks:rate or ranks:rate:nofsync, e.g. --point 5:4000");
  return { ranks: Number(m[1]), rate: Number(m[2]), fsync: m[3] === undefined };
}

async function main(): Promise<number> {
  if (process.argv.includes("--long")) {
    const r = await longRun(checkerPasses);
    process.stdout.write(longReport(r));
    mkdirSync("bench", { recursive: true });
    writeLong(r);
    return r.pass ? 0 : 1;
  }
  const quick = process.argv.includes("--quick");
  const only = pointArg();
  const repeats = quick || only ? 1 : 3;
  const sweeps: Record<number, number[]> = quick ? { 3: [2000, 8000], 5: [1000, 4000] } : { 3: [1000, 4000, 8000, 16000, 24000, 32000], 5: [500, 2000, 4000, 6000, 8000, 12000] };
  const points: Point[] = [];
  const ceilings: Record<number, number> = {};
  for (const ranks of only ? [only.ranks] : [3, 5]) {
    ceilings[ranks] = await ceiling(ranks);
    if (only) {
      points.push(await runPoint(ranks, only.rate, only.fsync, repeats));
      continue;
    }
    const rates = sweeps[ranks] ?? [];
    for (const rate of rates) points.push(await runPoint(ranks, rate, true, repeats));
    points.push(await runPoint(ranks, rates[rates.length - 1] ?? 1000, false, repeats));
  }
  if (only) {
    // One point (--point ranks:rate[:nofsync]) is for a quick look: print it, keep the results files.
    process.stdout.write(points.map((p) => row(p, ceilings[p.ranks] ?? NaN)).join("\n") + "\n");
    return points.every((p) => p.checked) ? 0 : 1;
  }
  const header = [
    `yasp benchmark: ${WINDOW_S} s window after ${WARM_S} s warm-up, median of ${repeats} run(s) (min-max), -o 100 -l ${L} --batch 256, 127.0.0.1`,
    `ceiling (same processes writing the same lines, no messaging): 3 ranks ${fmt(ceilings[3] ?? NaN)}/s, 5 ranks ${fmt(ceilings[5] ?? NaN)}/s`,
    "",
    "| ranks | fsync | offered/s | committed/s | p50 ms | p99 ms | max ms | CPU s/rank | peak RSS MB | committed/ceiling | checker |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const table = [...header, ...points.map((p) => row(p, ceilings[p.ranks] ?? NaN)), "", ...summaryLines(points)].join("\n") + "\n";
  process.stdout.write(table);
  mkdirSync("bench", { recursive: true });
  writeFileSync(join("bench", "results.md"), table + `\nReproduce a row: npx yasp-cluster -n <ranks> --log-dir logs/bench -- <args>; args of each row are in results.json.\n`);
  writeFileSync(join("bench", "results.json"), JSON.stringify({ warmS: WARM_S, windowS: WINDOW_S, repeats, ceilings, points }, null, 2) + "\n");
  return points.every((p) => p.checked) ? 0 : 1;
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
