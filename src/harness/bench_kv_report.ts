// bench:kv's table and plot: yasp's points beside the etcd 3.4 figures measured on this machine
// with the same workload (../shared issue 12), and throughput against p99 latency drawn with
// Vega-Lite (rendered to SVG in Node, no browser or canvas).
import * as vega from "vega";
import * as vl from "vega-lite";

export interface KvPoint {
  ranks: number;
  fsync: boolean;
  op: "put" | "get";
  clients: number;
  opsPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  serverCpuUsPerOp: number;
  clientCpuUsPerOp: number;
}

/** etcd 3.4, same machine, same workload (cheapest client, fsync, puts). */
export const ETCD = [
  { ranks: 3, clients: 1, opsPerS: 890, p50Ms: 1.04, p99Ms: NaN },
  { ranks: 3, clients: 16, opsPerS: 3335, p50Ms: NaN, p99Ms: 13.7 },
  { ranks: 3, clients: 128, opsPerS: 6671, p50Ms: NaN, p99Ms: 41.7 },
  { ranks: 5, clients: 128, opsPerS: 6329, p50Ms: NaN, p99Ms: NaN },
];

/** Issue 12's targets (3 ranks with fsync unless said). */
const TARGETS: Array<{
  ranks: number;
  op: "put" | "get";
  clients: number;
  opsPerS: number;
  p99Ms?: number;
}> = [
  { ranks: 3, op: "put", clients: 1, opsPerS: 1000 },
  { ranks: 3, op: "put", clients: 16, opsPerS: 10_000 },
  { ranks: 3, op: "put", clients: 128, opsPerS: 30_000, p99Ms: 20 },
  { ranks: 5, op: "put", clients: 128, opsPerS: 20_000 },
  { ranks: 3, op: "get", clients: 128, opsPerS: 30_000 },
];

const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "-");

function targetOf(p: KvPoint): string {
  if (!p.fsync) return "";
  const t = TARGETS.find((t) => t.ranks === p.ranks && t.op === p.op && t.clients === p.clients);
  if (!t) return "";
  const met = p.opsPerS >= t.opsPerS && (t.p99Ms === undefined || p.p99Ms <= t.p99Ms);
  return `${met ? "met" : "NOT MET"} (≥ ${t.opsPerS}/s${t.p99Ms ? `, p99 ≤ ${t.p99Ms} ms` : ""})`;
}

export function renderKvMarkdown(points: readonly KvPoint[]): string {
  const lines = [
    "| ranks | fsync | op | clients | ops/s | p50 ms | p99 ms | max ms | server CPU µs/op | client CPU µs/op | etcd 3.4 ops/s (p50/p99 ms) | target |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const p of points) {
    const e =
      p.fsync && p.op === "put"
        ? ETCD.find((e) => e.ranks === p.ranks && e.clients === p.clients)
        : undefined;
    const etcd = e ? `${e.opsPerS} (${f(e.p50Ms, 2)}/${f(e.p99Ms, 1)})` : "";
    lines.push(
      `| ${p.ranks} | ${p.fsync ? "yes" : "no"} | ${p.op} | ${p.clients} | ${f(p.opsPerS)} | ${f(p.p50Ms, 2)} | ${f(p.p99Ms, 2)} | ${f(p.maxMs, 1)} | ${f(p.serverCpuUsPerOp, 1)} | ${f(p.clientCpuUsPerOp, 1)} | ${etcd} | ${targetOf(p)} |`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Throughput (x) against p99 latency (y, log scale), one line per system and cluster size. */
export async function renderKvSvg(points: readonly KvPoint[]): Promise<string> {
  const values = [
    ...points
      .filter((p) => p.op === "put")
      .map((p) => ({
        series: `yasp ${p.ranks} ranks${p.fsync ? "" : " no-fsync"}`,
        ops: p.opsPerS,
        p99: p.p99Ms,
        clients: p.clients,
      })),
    ...ETCD.filter((e) => Number.isFinite(e.p99Ms)).map((e) => ({
      series: `etcd 3.4 ${e.ranks} members`,
      ops: e.opsPerS,
      p99: e.p99Ms,
      clients: e.clients,
    })),
  ];
  const spec = vl.compile({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "puts: throughput against p99 latency (C = 1, 16, 128 clients)",
    width: 520,
    height: 300,
    background: "white",
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "ops", type: "quantitative", title: "ops/s" },
      y: { field: "p99", type: "quantitative", title: "p99 latency (ms)", scale: { type: "log" } },
      color: { field: "series", type: "nominal", title: null },
      order: { field: "clients", type: "quantitative" },
    },
  }).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  return view.toSVG();
}
