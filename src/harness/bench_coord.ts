// The coordination section of `npm run bench:kv`: on 3 ranks with fsync, through the client
// library, timed on this process's monotonic clock:
// - uncontended lock round trip: one session, acquire then release, one at a time;
// - hand-off: clients waiting in line on one lock, each taking it and releasing it at once; the
//   hand-off is the time from a release's call to the next holder's grant;
// - watch fan-out: 1,000 watches on one prefix; a writer puts a key every 20 ms; the delay is from
//   the put's call to each watcher's event. Twice: all 1,000 in this process (over 20
//   connections spread on the ranks), where the watchers' own CPU (about 11 µs an event) queues
//   them behind each other, and spread over 4 client processes of 250 (coord_worker.ts, fanout),
//   as watchers usually are; arrivals there are timed on the host's monotonic clock, which every
//   process shares.
import { setMaxListeners } from "node:events";
import { connect, type KvClient } from "../client/index.js";
import type { KvCluster } from "../cli/kv_launch.js";
import { percentile } from "./coord_checks.js";
import { nowMs, WorkerProc } from "./coord_procs.js";

export type FanOut = Dist & { watchers: number; processes: number; writes: number };
export interface CoordFigures {
  lockRoundTrip: Dist;
  handOff: Dist;
  watchFanOut: FanOut;
  watchFanOutSpread: FanOut;
}
export interface Dist {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function dist(samples: number[]): Dist {
  const at = (p: number) => percentile(samples, p);
  return { n: samples.length, p50Ms: at(50), p99Ms: at(99), maxMs: at(100) };
}

async function lockRoundTrip(kv: KvClient, rounds: number): Promise<Dist> {
  const s = await kv.session({ ttlMs: 10_000 });
  const samples: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const t0 = nowMs();
      const { token } = await kv.acquire("bench/uncontended", { session: s });
      await kv.release("bench/uncontended", token);
      if (i >= rounds / 10) samples.push(nowMs() - t0); // the first tenth warms up
    }
  } finally {
    await s.close();
  }
  return dist(samples);
}

async function handOff(clients: KvClient[], rounds: number): Promise<Dist> {
  const samples: number[] = [];
  let releasedAt: number | null = null;
  await Promise.all(
    clients.map(async (kv) => {
      const s = await kv.session({ ttlMs: 10_000 });
      try {
        for (let i = 0; i < rounds; i++) {
          const { token } = await kv.acquire("bench/contended", { session: s });
          if (releasedAt !== null) samples.push(nowMs() - releasedAt);
          releasedAt = nowMs();
          await kv.release("bench/contended", token);
        }
      } finally {
        await s.close();
      }
    }),
  );
  return dist(samples);
}

async function watchFanOut(cluster: KvCluster, writes: number) {
  const CONNECTIONS = 20;
  const PER_CONNECTION = 50;
  const conns = Array.from({ length: CONNECTIONS }, (_, i) =>
    connect({ endpoints: [cluster.endpoints[i % cluster.endpoints.length] as string] }),
  );
  const writer = connect({ endpoints: cluster.endpoints });
  const putAt = new Map<string, number>();
  const samples: number[] = [];
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // one listener per watch, by design
  const start = (await writer.put("fan/start", "x")).version + 1;
  const readers = conns.flatMap((kv) =>
    Array.from({ length: PER_CONNECTION }, async () => {
      let seen = 0;
      try {
        const events = kv.watch("fan/", { prefix: true, fromRevision: start, signal: stop.signal });
        for await (const e of events) {
          const t = putAt.get(e.key);
          if (t !== undefined) samples.push(nowMs() - t);
          if (++seen >= writes) return;
        }
      } catch {
        // aborted at the end (a watcher that did not see everything shows in `delivered`)
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 1000)); // let every watch reach its rank
  await putSlowly(writer, "fan/", writes, putAt); // filled as it goes: arrivals read it live
  const timer = setTimeout(() => stop.abort(), 10_000);
  await Promise.all(readers);
  clearTimeout(timer);
  await Promise.all([...conns, writer].map((c) => c.close()));
  const watchers = CONNECTIONS * PER_CONNECTION;
  return { ...dist(samples), watchers, processes: 1, writes };
}

/** A writer puts `writes` keys under `prefix`, one every 20 ms; the time each put was called,
 * except for the first tenth (warm-up: the first events of 1,000 fresh watches run cold code). */
async function putSlowly(
  kv: KvClient,
  prefix: string,
  writes: number,
  putAt = new Map<string, number>(),
): Promise<Map<string, number>> {
  for (let i = 0; i < writes; i++) {
    const key = `${prefix}${i}`;
    if (i >= writes / 10) putAt.set(key, nowMs());
    await kv.put(key, "v");
    await new Promise((r) => setTimeout(r, 20));
  }
  return putAt;
}

async function watchFanOutSpread(cluster: KvCluster, writes: number): Promise<FanOut> {
  const PROCESSES = 4;
  const PER_PROCESS = 250;
  const writer = connect({ endpoints: cluster.endpoints });
  const procs: WorkerProc[] = [];
  try {
    const fromRevision = (await writer.put("spread/start", "x")).version + 1;
    for (let i = 0; i < PROCESSES; i++) {
      const endpoints = [cluster.endpoints[i % cluster.endpoints.length] as string];
      const spec = { role: "fanout", endpoints, prefix: "spread/", watches: PER_PROCESS };
      procs.push(new WorkerProc(`fanout-${i}`, { ...spec, rounds: writes, fromRevision }));
    }
    await Promise.all(procs.map((p) => p.until("watching", 30_000)));
    await new Promise((r) => setTimeout(r, 1000)); // let every watch reach its rank
    const putAt = await putSlowly(writer, "spread/", writes);
    await Promise.all(procs.map((p) => p.until("done", 30_000)));
    const samples: number[] = [];
    for (const p of procs) {
      for (const l of p.all("arrived")) {
        for (const [key, t] of l.list as [string, number][]) {
          const at = putAt.get(key);
          if (at !== undefined) samples.push(t - at);
        }
      }
    }
    return { ...dist(samples), watchers: PROCESSES * PER_PROCESS, processes: PROCESSES, writes };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await writer.close();
  }
}

export async function runCoordBench(cluster: KvCluster, quick: boolean): Promise<CoordFigures> {
  const kv = connect({ endpoints: [cluster.endpoints[0] as string], timeoutMs: 30_000 });
  const waiters = Array.from({ length: 8 }, (_, i) =>
    connect({ endpoints: [cluster.endpoints[i % cluster.endpoints.length] as string] }),
  );
  try {
    const deadline = nowMs() + 30_000;
    while (((await kv.checkMaster())?.epoch ?? 0) === 0) {
      if (nowMs() > deadline) throw new Error("no active master within 30 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const lock = await lockRoundTrip(kv, quick ? 200 : 1000);
    const hand = await handOff(waiters, quick ? 25 : 100);
    const fan = await watchFanOut(cluster, quick ? 50 : 200);
    const spread = await watchFanOutSpread(cluster, quick ? 50 : 200);
    return { lockRoundTrip: lock, handOff: hand, watchFanOut: fan, watchFanOutSpread: spread };
  } finally {
    await Promise.all([kv, ...waiters].map((c) => c.close()));
  }
}

export function renderCoordMarkdown(f: CoordFigures): string {
  const ms = (v: number) => v.toFixed(2);
  const verdict = (ok: boolean) => (ok ? "met" : "not met");
  const fan = (w: FanOut) =>
    `| write → ${w.watchers} watchers on a prefix, in ${w.processes} client process${w.processes > 1 ? "es" : ""} | ${w.n} | ${ms(w.p50Ms)} | ${ms(w.p99Ms)} | ${ms(w.maxMs)} | p99 ≤ 20 ms: ${verdict(w.p99Ms <= 20)} |`;
  return [
    "| measure (3 ranks, fsync) | samples | p50 ms | p99 ms | max ms | target |",
    "|---|---|---|---|---|---|",
    `| uncontended acquire → release | ${f.lockRoundTrip.n} | ${ms(f.lockRoundTrip.p50Ms)} | ${ms(f.lockRoundTrip.p99Ms)} | ${ms(f.lockRoundTrip.maxMs)} | p50 ≤ 2 ms: ${verdict(f.lockRoundTrip.p50Ms <= 2)} |`,
    `| lock hand-off, 8 waiting clients | ${f.handOff.n} | ${ms(f.handOff.p50Ms)} | ${ms(f.handOff.p99Ms)} | ${ms(f.handOff.maxMs)} | p99 ≤ 20 ms: ${verdict(f.handOff.p99Ms <= 20)} |`,
    fan(f.watchFanOut),
    fan(f.watchFanOutSpread),
    "",
  ].join("\n");
}
