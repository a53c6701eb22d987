// `npm run bench:kv [-- --quick]`: the workload etcd's anchor figures were measured with. One
// process runs C closed-loop clients of the yasp client library (each its own connection, spread
// over the ranks), each awaiting one put at a time (16-byte unique keys, 64-byte values); 1 s of
// warm-up, then 10 s measured; C = 1, 16, 128 on 3 and 5 ranks with fsync and on 3 ranks with
// --no-fsync, plus gets at C = 128; the median of 3 runs per point. Reported: ops/s, p50/p99/max
// latency, CPU per op of the servers (all ranks together) and of the client process. Written to
// bench/kv-results.{json,md} and drawn as bench/kv-results.svg (bench_kv_report.ts). Then the
// coordination section on 3 ranks with fsync (bench_coord.ts), written to bench/kv-coord.{json,md};
// `-- --coord` runs only that section.
import { readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { connect, type KvClient } from "../client/index.js";
import { KvCluster } from "../cli/kv_launch.js";
import { renderKvMarkdown, renderKvSvg, type KvPoint } from "./bench_kv_report.js";
import { renderCoordMarkdown, runCoordBench } from "./bench_coord.js";

const WARM_MS = 1000;
const MEASURE_MS = 10_000;
const VALUE = new Uint8Array(64).fill(0x61);

interface Config {
  ranks: number;
  fsync: boolean;
  op: "put" | "get";
  clients: number;
}

/** CPU seconds a process has used (user + system), from /proc (Linux). */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
  } catch {
    return 0;
  }
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function closedLoop(
  clients: KvClient[],
  op: "put" | "get",
  runId: number,
): Promise<{ latencies: number[]; clientCpuS: number }> {
  const latencies: number[] = [];
  const start = nowMs();
  const measureFrom = start + WARM_MS;
  const end = measureFrom + MEASURE_MS;
  let cpuAtStart: NodeJS.CpuUsage | null = null;
  const timer = setTimeout(() => (cpuAtStart = process.cpuUsage()), WARM_MS);
  await Promise.all(
    clients.map(async (c, i) => {
      for (let k = 0; ; k++) {
        const t0 = nowMs();
        if (t0 >= end) return;
        // 16-byte unique keys (gets read keys the warm-up wrote, see main).
        const key =
          op === "put"
            ? `${runId}:${i}:${k}`.padEnd(16, "_").slice(0, 16)
            : `w:${i % 1024}`.padEnd(16, "_");
        if (op === "put") await c.put(key, VALUE);
        else await c.get(key);
        const t1 = nowMs();
        if (t0 >= measureFrom) latencies.push(t1 - t0);
      }
    }),
  );
  clearTimeout(timer);
  const used = process.cpuUsage(cpuAtStart ?? undefined);
  return { latencies, clientCpuS: (used.user + used.system) / 1e6 };
}

function summarize(
  cfg: Config,
  latencies: number[],
  serverCpuS: number,
  clientCpuS: number,
): KvPoint {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  const ops = sorted.length;
  return {
    ...cfg,
    opsPerS: ops / (MEASURE_MS / 1000),
    p50Ms: at(50),
    p99Ms: at(99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    serverCpuUsPerOp: (serverCpuS * 1e6) / ops,
    clientCpuUsPerOp: (clientCpuS * 1e6) / ops,
  };
}

async function runPoint(cluster: KvCluster, cfg: Config, runId: number): Promise<KvPoint> {
  const clients = Array.from({ length: cfg.clients }, (_, i) =>
    connect({
      endpoints: [cluster.endpoints[i % cluster.endpoints.length] as string],
      timeoutMs: 30_000,
    }),
  );
  try {
    const pids = cluster.ranks.map((r) => cluster.pid(r.rank));
    const cpu0 = pids.map(cpuSecondsOf);
    const { latencies, clientCpuS } = await closedLoop(clients, cfg.op, runId);
    // Server CPU over the whole run, scaled to the measured part (warm-up is a tenth of it).
    const serverCpuS =
      pids.map(cpuSecondsOf).reduce((s, c, i) => s + c - (cpu0[i] ?? 0), 0) *
      (MEASURE_MS / (MEASURE_MS + WARM_MS));
    return summarize(cfg, latencies, serverCpuS, clientCpuS);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

const medianBy = (points: KvPoint[]): KvPoint =>
  [...points].sort((a, b) => a.opsPerS - b.opsPerS)[Math.floor(points.length / 2)] as KvPoint;

/** The coordination section on a fresh 3-rank cluster with fsync. */
async function coordSection(quick: boolean): Promise<void> {
  const dir = join("bench", "tmp", "kv-coord");
  rmSync(dir, { recursive: true, force: true });
  const cluster = await KvCluster.start({ n: 3, dir });
  try {
    const figures = await runCoordBench(cluster, quick);
    const md = renderCoordMarkdown(figures);
    mkdirSync("bench", { recursive: true });
    writeFileSync(
      join("bench", "kv-coord.json"),
      JSON.stringify({ at: new Date().toISOString(), figures }, null, 1) + "\n",
    );
    writeFileSync(join("bench", "kv-coord.md"), md);
    process.stdout.write("\ncoordination:\n" + md);
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  if (process.argv.includes("--coord")) return coordSection(quick);
  const repeats = quick ? 1 : 3;
  const sizes = quick ? [1, 16] : [1, 16, 128];
  const setups: Array<{ ranks: number; fsync: boolean }> = [
    { ranks: 3, fsync: true },
    { ranks: 5, fsync: true },
    { ranks: 3, fsync: false },
  ];
  const points: KvPoint[] = [];
  let runId = 0;
  for (const setup of setups) {
    const dir = join("bench", "tmp", `kv-${setup.ranks}r-${setup.fsync ? "fsync" : "nofsync"}`);
    rmSync(dir, { recursive: true, force: true });
    const cluster = await KvCluster.start({
      n: setup.ranks,
      dir,
      rankArgs: setup.fsync ? [] : ["--no-fsync"],
    });
    try {
      const configs: Config[] = sizes.map((clients) => ({ ...setup, op: "put", clients }));
      if (setup.ranks === 3 && setup.fsync) {
        // The keys the gets read.
        const c = connect({ endpoints: cluster.endpoints });
        await Promise.all(
          Array.from({ length: 1024 }, (_, i) => c.put(`w:${i}`.padEnd(16, "_"), VALUE)),
        );
        await c.close();
        configs.push({ ...setup, op: "get", clients: quick ? 16 : 128 });
      }
      for (const cfg of configs) {
        const runs: KvPoint[] = [];
        for (let k = 0; k < repeats; k++) runs.push(await runPoint(cluster, cfg, runId++));
        const m = medianBy(runs);
        points.push(m);
        process.stdout.write(
          `${m.ranks} ranks ${m.fsync ? "fsync" : "no-fsync"} ${m.op} C=${m.clients}: ${m.opsPerS.toFixed(0)} ops/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms\n`,
        );
      }
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  mkdirSync("bench", { recursive: true });
  const md = renderKvMarkdown(points);
  writeFileSync(
    join("bench", "kv-results.json"),
    JSON.stringify({ at: new Date().toISOString(), points }, null, 1) + "\n",
  );
  writeFileSync(join("bench", "kv-results.md"), md);
  writeFileSync(join("bench", "kv-results.svg"), await renderKvSvg(points));
  process.stdout.write("\n" + md);
  await coordSection(quick);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:kv: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
