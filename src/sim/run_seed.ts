// One simulated run: draw the seed's plan, run the safety phase with its faults and its client
// load, heal everything, give the cluster the liveness budget to converge, then check the logs and
// the replicated state.
import { InvariantError } from "../protocol/assert.js";
import { CALM, mix } from "./network.js";
import { checkLogs, parseLog } from "./check.js";
import { SimCluster } from "./cluster.js";
import { KvLoad, type KvLoadStats } from "./kv_load.js";
import type { FaultEvent, SeedPlan } from "./plan.js";
import { ReadChecks } from "./read_checks.js";
import { checkFinalState } from "./state_checks.js";

/** What a run went through (to tell that snapshots, installs and lost disks were exercised). */
export interface SeedStats {
  /** WAL checkpoints, each with a state-machine snapshot. */
  checkpoints: number;
  /** Peer snapshots installed (install lines in the logs), and those by a rank after its disk
   * was lost. */
  installs: number;
  rejoinInstalls: number;
  lostDisks: number;
  kv: KvLoadStats;
}

export interface SeedResult {
  plan: SeedPlan;
  violations: string[];
  converged: boolean;
  traceHash: string;
  commits: number[];
  virtualMs: number;
  stats: SeedStats;
}

type Timed = { atMs: number; apply: () => Promise<void> | void };

function actions(c: SimCluster, plan: SeedPlan, e: FaultEvent): Timed[] {
  const end = Math.min(e.atMs + e.forMs, plan.safetyMs);
  if (e.kind === "partition") {
    const [a = [], b = []] = e.groups;
    const cut = (on: boolean) =>
      a.forEach((x) => b.forEach((y) => c.net.setCut(x, y, on, e.oneWay)));
    return [
      { atMs: e.atMs, apply: () => cut(true) },
      { atMs: end, apply: () => cut(false) },
    ];
  }
  if (e.kind === "pause") {
    return [
      { atMs: e.atMs, apply: () => void (!c.crashed.has(e.rank) && c.pause(e.rank)) },
      { atMs: end, apply: () => void (c.isPaused(e.rank) && c.resume(e.rank)) },
    ];
  }
  if (e.kind === "lostDisk") {
    return [
      { atMs: e.atMs, apply: () => c.loseDisk(e.rank) },
      { atMs: end, apply: () => restart(c, plan, e.rank) },
    ];
  }
  return [
    { atMs: e.atMs, apply: () => (c.crashed.has(e.rank) ? undefined : c.crash(e.rank)) },
    { atMs: end, apply: () => restart(c, plan, e.rank) },
  ];
}

function restart(c: SimCluster, plan: SeedPlan, rank: number): Promise<void> | undefined {
  if (!c.crashed.has(rank)) return undefined;
  // A restarted rank generates only for what is left of the safety phase.
  return c.restart(rank, { genSeconds: Math.max(0, (plan.safetyMs - c.elapsedMs()) / 1000) });
}

export async function runSeed(plan: SeedPlan): Promise<SeedResult> {
  const c = await SimCluster.start({
    n: plan.n,
    seed: plan.seed,
    faults: {
      drop: plan.loss,
      dup: plan.dup,
      minDelayUs: plan.minDelayUs,
      maxDelayUs: plan.maxDelayUs,
    },
    syncUs: plan.syncUs,
    rank: {
      timeoutMs: plan.timeoutMs,
      maxPerRound: plan.maxPerRound,
      batch: plan.batch,
      window: plan.window,
      channelCapacity: plan.channelCapacity,
      checkpointBytes: plan.checkpointBytes,
    },
    bugs: plan.bugs,
    workload: { rate: plan.rate, genSeconds: plan.safetyMs / 1000, graceSeconds: 3600 },
  });
  const load = new KvLoad(c, plan.seed, plan.kvRate, plan.safetyMs);
  let broken: string;
  try {
    return await phases(c, plan, load);
  } catch (e) {
    if (!(e instanceof InvariantError)) throw e;
    broken = `invariant at ${c.elapsedMs().toFixed(3)} ms: ${e.message}`;
  }
  // An invariant stopped the run: the logs are whatever the ranks had written by then.
  await c.stop().catch(() => {});
  return { ...summarize(c, plan, load, false), violations: [broken] };
}

/** The safety phase with the plan's faults, then healing and the liveness phase. */
async function phases(c: SimCluster, plan: SeedPlan, load: KvLoad): Promise<SeedResult> {
  const reads = new ReadChecks();
  load.start();
  const barriers = plan.barriers.map((b) => ({
    atMs: b.atMs,
    apply: () => reads.start(c, b.rank),
  }));
  const timeline = [...plan.events.flatMap((e) => actions(c, plan, e)), ...barriers].sort(
    (a, b) => a.atMs - b.atMs,
  );
  for (const step of timeline) {
    await c.runFor(Math.max(0, step.atMs - c.elapsedMs()));
    await step.apply();
  }
  await c.runFor(Math.max(0, plan.safetyMs - c.elapsedMs()));
  // Liveness phase: faults stop, every link heals, every rank is up.
  c.net.faults = { ...CALM };
  c.net.healAll();
  for (let r = 0; r < plan.n; r++) {
    if (c.isPaused(r)) c.resume(r);
    if (c.crashed.has(r)) await c.restart(r, { genSeconds: 0 });
  }
  const converged = await c.runUntilFinished(plan.livenessMs / 1000);
  // A barrier or a submit may still wait for its commit to be applied.
  if (reads.waiting > 0 || load.waiting > 0) await c.runFor(3000);
  const virtualMs = c.elapsedMs();
  const state = converged ? finalState(c, load) : [];
  const unanswered = load.waiting;
  await c.stop();
  const result = summarize(c, plan, load, converged, virtualMs);
  if (!converged)
    result.violations.push(
      `liveness: not every rank converged within ${plan.livenessMs / 1000} s after healing`,
    );
  for (const w of c.warnings) if (w.includes("SAFETY")) result.violations.push(w);
  result.violations.push(...reads.problems, ...load.problems, ...state);
  if (reads.waiting > 0)
    result.violations.push(`liveness: ${reads.waiting} read barriers never answered`);
  if (converged && unanswered > 0)
    result.violations.push(`liveness: ${unanswered} submits never answered on running ranks`);
  return result;
}

/** The replicated-state rules on the converged cluster (state_checks.ts). */
function finalState(c: SimCluster, load: KvLoad): string[] {
  const ranks = c.ranks.map((rank, me) => ({
    commitIndex: rank.commitIndex,
    appliedSeq: rank.state.appliedSeq,
    hash: c.machines[me]?.stateHash() ?? "none",
  }));
  return checkFinalState(c.applied, ranks, load.answers);
}

// The log line Proposer.dropBoundBelow writes for an own instance bound under a snapshot the rank
// installed (log_lines.ts unknownLine).
const UNKNOWN = /^unknown Instance\[([^\]\r\n]*)\] in seq \d+ at \d+$/;

/** Instances whose outcome their rank declared unknown (check.ts excuses them if none committed). */
function unknownOutcomes(logs: readonly (readonly string[])[]): Set<string> {
  const ids = new Set<string>();
  for (const lines of logs)
    for (const line of lines) {
      const m = UNKNOWN.exec(line.replace(/\n$/, ""));
      if (m) ids.add(m[1] as string);
    }
  return ids;
}

function summarize(
  c: SimCluster,
  plan: SeedPlan,
  load: KvLoad,
  converged: boolean,
  virtualMs = c.elapsedMs(),
): SeedResult {
  const texts = c.logs.map((l) => l.text());
  let h = c.net.trace;
  for (const t of texts) for (let i = 0; i < t.length; i += 1) h = mix(h, t.charCodeAt(i));
  const logs = texts.map((t) => parseLog(0, t, []));
  return {
    plan,
    violations: checkLogs(texts, converged, unknownOutcomes(c.logs.map((l) => l.lines))),
    converged,
    traceHash: h.toString(16).padStart(8, "0"),
    commits: logs.map((l) => l.end),
    virtualMs,
    stats: {
      checkpoints: c.snapshotCounts.checkpoints,
      installs: logs.reduce((n, l) => n + l.installs, 0),
      rejoinInstalls: logs.reduce((n, l) => n + l.rejoinInstalls, 0),
      lostDisks: c.lostDisks,
      kv: { ...load.stats },
    },
  };
}
