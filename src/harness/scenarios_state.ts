// The scenarios about replicated state (issue 11): ranks submit commands of 64 random bytes
// (--payload 64) to the digest state machine, snapshot often (a small --checkpoint-bytes), and
// must end with the same state hash at the same applied seq. wipe-disk-5 deletes one rank's data
// directory and brings it back with --rejoin (by a peer's snapshot); restart-all-5 kills every
// rank at once and restarts them all (recovery from snapshot + WAL).
import { nowUs, sleep, type Scenario, type ScenarioCtx } from "./scenario_ctx.js";
import type { StatusSnapshot } from "./scenario_evidence.js";

/** Seconds of generation per rank and the length of a fault (scenarios.ts). */
export interface StatePace {
  t: number;
  faultMs: number;
}

/** A WAL past this is rewritten (checked every second): at 64-byte commands and 800-1000 of
 * them a second, every rank snapshots about once a second, and keeps as many bytes of commands
 * for peers before only its snapshot covers them. */
const CHECKPOINT_BYTES = "16384";
const WIPED = 4;

const args = (t: number) => [
  ...["-o", "100", "-l", "200", "-t", String(t), "--rate", "200", "--grace", "60"],
  ...["--payload", "64", "--checkpoint-bytes", CHECKPOINT_BYTES],
];

export function stateScenarios(pace: StatePace): Scenario[] {
  // The others generate long enough for the wiped rank to come back while they are at work.
  const t = pace.t + 4;
  return [
    {
      name: "wipe-disk-5",
      n: 5,
      args: args(t),
      // Its own generation is short: when its disk goes, every instance it generated must be
      // committed (a proposal not yet bound lives only in its WAL: wiping that would lose it, and
      // the checker would rightly say so).
      rankArgs: { [WIPED]: args(1) },
      script: wipeDisk,
    },
    {
      name: "restart-all-5",
      n: 5,
      args: args(pace.t),
      script: (ctx) => restartAll(ctx, pace),
    },
  ];
}

/** Its generation is over and everything it generated is committed (its submits all resolved). */
function ownWorkDone(s: StatusSnapshot | null): boolean {
  const sub = s?.submits;
  return (
    s !== null &&
    s.generation != null &&
    s.generation.endUs < s.atUs &&
    s.backlog === 0 &&
    sub !== undefined &&
    sub.submitted > 0 &&
    sub.resolved === sub.submitted
  );
}

/**
 * Once rank 4 has nothing of its own left to commit, kill -9 it and delete its data directory
 * (WAL and snapshot; its log stays). Wait until every other rank has snapshotted past the last
 * seq it committed, and for them to forget the commits below (past --checkpoint-bytes of
 * commands), then restart it with --rejoin: it can only come back by a peer's snapshot.
 */
async function wipeDisk(ctx: ScenarioCtx): Promise<void> {
  await ctx.waitCommits(300);
  const others = [0, 1, 2, 3];
  if (!(await ctx.waitUntil(() => ownWorkDone(ctx.statusOf(WIPED)), `rank ${WIPED} idle`))) return;
  await ctx.kill(WIPED);
  ctx.wipe(WIPED);
  const had = ctx.maxCommitSeq(WIPED);
  const past = () => others.every((r) => (ctx.statusOf(r)?.snapshotSeq ?? -1) > had);
  if (!(await ctx.waitUntil(past, `the others snapshotting past seq ${had}`))) return;
  await sleep(1000); // their next commits make them forget what the snapshot covers
  // No markFault: the others never stopped, so the time to their next commit would say nothing;
  // the line reports the time from the restart to the install instead.
  ctx.start(WIPED, ["--rejoin"]);
  ctx.expectSameState();
}

/** Once every rank has a snapshot, kill -9 them all at once while they submit, and restart them
 * all: nothing whose submit resolved may be lost. */
async function restartAll(ctx: ScenarioCtx, pace: StatePace): Promise<void> {
  const all = [0, 1, 2, 3, 4];
  await ctx.waitCommits(600);
  // Each has taken a snapshot: they recover from snapshot + WAL, not from the WAL alone.
  const snapshotted = () => all.every((r) => (ctx.statusOf(r)?.snapshotSeq ?? -1) >= 0);
  if (!(await ctx.waitUntil(snapshotted, "every rank taking a snapshot"))) return;
  const gone = all.map((r) => ctx.kill(r));
  ctx.markFault();
  const killedAtUs = nowUs();
  await Promise.all(gone);
  await sleep(Math.max(0, pace.faultMs / 2 - (nowUs() - killedAtUs) / 1000));
  for (const r of all) ctx.start(r);
  ctx.expectSameState();
}
