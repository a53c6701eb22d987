// What one seed means: fault levels and a fault schedule, all drawn from the seed (VOPR-like
// ranges), so a failing seed replays exactly.
import type { BugName } from "./bugs.js";
import { Prng } from "../faults/prng.js";

export type FaultEvent =
  | { atMs: number; forMs: number; kind: "partition"; groups: number[][]; oneWay: boolean }
  | { atMs: number; forMs: number; kind: "pause"; rank: number }
  | { atMs: number; forMs: number; kind: "crash"; rank: number };

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
  bugs: BugName[];
}

export function drawPlan(seed: number, n: number, bugs: BugName[] = []): SeedPlan {
  const rng = new Prng(seed ^ 0x5eed);
  const safetyMs = 28_000;
  const maxDelayUs = rng.chance(0.3) ? rng.int(5_000, 60_000) : rng.int(200, 5_000);
  return {
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
    bugs,
  };
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
