// What one seed means: fault levels and a fault schedule, all drawn from the seed (VOPR-like
// ranges), so a failing seed replays exactly.
import type { BugName } from "./bugs.js";
import { Prng } from "../faults/prng.js";

export type FaultEvent =
  | { atMs: number; forMs: number; kind: "partition"; groups: number[][]; oneWay: boolean }
  | { atMs: number; forMs: number; kind: "pause"; rank: number }
  | { atMs: number; forMs: number; kind: "crash"; rank: number }
  /** The rank crashes and its disk is lost (WAL and snapshots); it rejoins on an empty one. */
  | { atMs: number; forMs: number; kind: "lostDisk"; rank: number };

export interface SeedPlan {
  seed: number;
  n: number;
  /** Virtual ms of the safety phase (faults on, ranks generating). */
  safetyMs: number;
  /** Virtual ms the healed cluster gets to converge. */
  livenessMs: number;
  loss: number;
  dup: number;
  minDelayUs: number;
  maxDelayUs: number;
  syncUs: [number, number];
  channelCapacity: number;
  timeoutMs: number;
  maxPerRound: number;
  batch: number;
  window: number;
  rate: number;
  /** Write-ahead log size that triggers a checkpoint (small in some seeds, so recovery from
   * snapshots is exercised). */
  checkpointBytes: number;
  events: FaultEvent[];
  /** Read barriers started during the safety phase (drawn from a stream of their own, so the
   * rest of a seed's plan is what it was before barriers were added). */
  barriers: { atMs: number; rank: number }[];
  /** KV commands each rank submits per second during the safety phase (drawn, like the lost
   * disks, from a stream of its own). */
  kvRate: number;
  bugs: BugName[];
}

export function drawPlan(seed: number, n: number, bugs: BugName[] = []): SeedPlan {
  const rng = new Prng(seed ^ 0x5eed);
  const safetyMs = 28_000;
  const maxDelayUs = rng.chance(0.3) ? rng.int(5_000, 60_000) : rng.int(200, 5_000);
  const plan: SeedPlan = {
    seed,
    n,
    safetyMs,
    livenessMs: 20_000,
    loss: rng.chance(0.2) ? 0 : rng.next() * 0.3,
    dup: rng.chance(0.3) ? 0 : rng.next() * 0.5,
    minDelayUs: rng.int(20, 200),
    maxDelayUs,
    syncUs: rng.chance(0.5) ? [50, 300] : [100, 5000],
    // Sometimes tiny channels, so nonblocking writes between processors fail.
    channelCapacity: rng.chance(0.3) ? rng.int(6, 32) : 4096,
    timeoutMs: rng.pick([100, 200, 400]),
    maxPerRound: rng.pick([5, 20, 100, 1000]),
    batch: rng.pick([1, 4, 16, 64]),
    window: rng.int(1, 8),
    rate: rng.int(2, 20),
    checkpointBytes: rng.chance(0.3) ? rng.int(2_000, 20_000) : 64 * 1024 * 1024,
    events: drawEvents(rng, n, safetyMs),
    barriers: drawBarriers(new Prng(seed ^ 0xba55), n, safetyMs),
    kvRate: 0,
    bugs,
  };
  const more = new Prng(seed ^ 0xd15c);
  plan.kvRate = more.int(1, 8);
  const lost = drawLostDisks(more, plan);
  if (lost.length > 0) plan.events = [...plan.events, ...lost].sort((a, b) => a.atMs - b.atMs);
  return plan;
}

function drawEvents(rng: Prng, n: number, safetyMs: number): FaultEvent[] {
  const events: FaultEvent[] = [];
  const count = rng.int(2, 10);
  for (let i = 0; i < count; i++) {
    const atMs = rng.int(500, safetyMs - 1500);
    const forMs = rng.int(100, 5000);
    const kind = rng.pick(["partition", "pause", "crash"] as const);
    if (kind === "partition")
      events.push({ atMs, forMs, kind, groups: randomSplit(rng, n), oneWay: rng.chance(0.3) });
    else events.push({ atMs, forMs, kind, rank: rng.int(0, n - 1) });
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}

/** How long after its restart a rejoining rank still counts as down (it is catching up). */
const REJOIN_MARGIN_MS = 2000;

/** Lost disks for some seeds (none, one, sometimes two), placed where they keep the rules: one
 * lost disk at a time, and never more than a minority of ranks down (crashed, or lost and
 * rejoining) at once. */
function drawLostDisks(rng: Prng, plan: SeedPlan): FaultEvent[] {
  const { n, safetyMs } = plan;
  const wanted = rng.chance(0.35) ? (rng.chance(0.25) ? 2 : 1) : 0;
  if (n < 3) return [];
  const down = downIntervals(plan.events, n, safetyMs);
  const lost: FaultEvent[] = [];
  for (let tries = 0; tries < 40 && lost.length < wanted; tries++) {
    const atMs = rng.int(1000, safetyMs - 3000);
    const forMs = rng.int(300, 6000);
    const rank = rng.int(0, n - 1);
    const until = Math.min(atMs + forMs, safetyMs) + REJOIN_MARGIN_MS;
    const overlaps = (i: Interval) => i.from < until && atMs < i.to;
    if (lost.some((e) => overlaps({ from: e.atMs, to: e.atMs + e.forMs + REJOIN_MARGIN_MS })))
      continue;
    if (mostDownAt(down, rank, atMs, until) + 1 > Math.floor((n - 1) / 2)) continue;
    lost.push({ atMs, forMs, kind: "lostDisk", rank });
  }
  return lost;
}

interface Interval {
  from: number;
  to: number;
}

/** When each rank is down through crash events, as run_seed plays them: a crash of a crashed rank
 * does nothing, a restart of a running one neither, and every rank is up again at safetyMs. */
export function downIntervals(events: readonly FaultEvent[], n: number, safetyMs: number) {
  const steps: { atMs: number; rank: number; up: boolean }[] = [];
  for (const e of events) {
    if (e.kind === "partition" || e.kind === "pause") continue;
    steps.push({ atMs: e.atMs, rank: e.rank, up: false });
    steps.push({ atMs: Math.min(e.atMs + e.forMs, safetyMs), rank: e.rank, up: true });
  }
  steps.sort((a, b) => a.atMs - b.atMs); // stable: the order run_seed's timeline has
  const since: (number | undefined)[] = new Array<number | undefined>(n).fill(undefined);
  const down: Interval[][] = Array.from({ length: n }, () => []);
  const up = (rank: number, atMs: number) => {
    const from = since[rank];
    if (from !== undefined) down[rank]?.push({ from, to: atMs });
    since[rank] = undefined;
  };
  for (const s of steps) {
    if (s.up) up(s.rank, s.atMs);
    else since[s.rank] ??= s.atMs;
  }
  for (let r = 0; r < n; r++) up(r, safetyMs);
  return down;
}

/** The most ranks other than `except` down at once within [from, to). */
function mostDownAt(down: Interval[][], except: number, from: number, to: number): number {
  const edges: { atMs: number; d: number }[] = [];
  down.forEach((list, r) => {
    if (r === except) return;
    for (const i of list) {
      if (i.to <= from || i.from >= to) continue;
      edges.push({ atMs: Math.max(i.from, from), d: 1 }, { atMs: i.to, d: -1 });
    }
  });
  edges.sort((a, b) => a.atMs - b.atMs || a.d - b.d); // an end before a start at the same time
  let now = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (now += e.d));
  return most;
}

function drawBarriers(rng: Prng, n: number, safetyMs: number): { atMs: number; rank: number }[] {
  const count = rng.int(5, 30);
  const barriers = Array.from({ length: count }, () => ({
    atMs: rng.int(200, safetyMs - 200),
    rank: rng.int(0, n - 1),
  }));
  return barriers.sort((a, b) => a.atMs - b.atMs);
}

/** Two groups: a random minority (1..floor(n/2) ranks) and the rest. */
function randomSplit(rng: Prng, n: number): number[][] {
  const ranks = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [ranks[i], ranks[j]] = [ranks[j] as number, ranks[i] as number];
  }
  const k = rng.int(1, Math.max(1, Math.floor(n / 2)));
  return [ranks.slice(0, k), ranks.slice(k)];
}
