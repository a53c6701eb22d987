// The simulator itself: a seed replays exactly, and each known protocol bug is caught.
import { describe, expect, it } from "vitest";
import { BUG_NAMES, type BugName } from "./bugs.js";
import { commitLine, generateLine, installLine } from "../protocol/log_lines.js";
import { checkLogs, lostDiskLine } from "./check.js";
import { drawPlan } from "./plan.js";
import { runSeed } from "./run_seed.js";

describe("deterministic simulation", () => {
  it("the same seed gives the same run (trace hash); another seed another", async () => {
    const a = await runSeed(drawPlan(11, 3));
    const b = await runSeed(drawPlan(11, 3));
    const c = await runSeed(drawPlan(12, 3));
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.commits).toEqual(b.commits);
    expect(c.traceHash).not.toBe(a.traceHash);
    expect(a.violations).toEqual([]);
    expect(a.commits[0]).toBeGreaterThan(0);
  }, 60_000);

  // The rule that must catch a bug, where one must: a state machine that ignores installed
  // snapshots leaves logs and seqs right, so only the state-hash rule can see it.
  const caughtByRule: Partial<Record<BugName, RegExp>> = {
    "install-skips-restore": /^state: ranks differ/,
  };
  for (const bug of BUG_NAMES) {
    it(`finds the injected bug "${bug}" within 200 seeds, and the same seed passes without it`, async () => {
      // Found means a safety violation: a bug may also just stall some seeds (e.g. skip-read, when
      // owners refuse seqs they know are committed), which is a liveness failure and not enough.
      const rule = caughtByRule[bug];
      const isSafety = (v: string) => (rule ? rule.test(v) : !v.startsWith("liveness"));
      let caughtBy: number | undefined;
      for (let seed = 1; seed <= 200 && caughtBy === undefined; seed++) {
        if ((await runSeed(drawPlan(seed, 5, [bug]))).violations.some(isSafety)) caughtBy = seed;
      }
      expect(caughtBy).toBeDefined();
      // The catching seed without the bug must pass: otherwise the seed fails for another reason
      // and the switch could be dead (or the simulator broken) while the bug looks caught.
      const clean = await runSeed(drawPlan(caughtBy ?? 0, 5, []));
      expect(clean.violations).toEqual([]);
      expect(clean.converged).toBe(true);
    }, 300_000);
  }
});

describe("lost disks", () => {
  // Pinned seeds (5 ranks): in 94 rank 0 loses its disk at 23.3 s after its peers compacted their
  // logs into snapshots, so it rejoins by installing one; in 7 rank 3 loses it with the peers
  // still holding every seq, so it fetches them all. Either way the run passes every rule, the
  // state-hash rule included; with install-skips-restore, 94 fails that rule.
  it("a rank rejoins by a peer's snapshot, and ends in the same state (seed 94)", async () => {
    const plan = drawPlan(94, 5);
    expect(plan.events.filter((e) => e.kind === "lostDisk")).toHaveLength(1);
    const r = await runSeed(plan);
    expect(r.violations).toEqual([]);
    expect(r.converged).toBe(true);
    expect(r.stats.rejoinInstalls).toBeGreaterThan(0);
    const buggy = await runSeed(drawPlan(94, 5, ["install-skips-restore"]));
    expect(buggy.violations.some((v) => v.startsWith("state: ranks differ"))).toBe(true);
  }, 60_000);
  it("a rank rejoins by fetching every seq when no peer compacted (seed 7)", async () => {
    const r = await runSeed(drawPlan(7, 5));
    expect(r.violations).toEqual([]);
    expect(r.stats.lostDisks).toBe(1);
    expect(r.stats.installs).toBe(0);
  }, 60_000);
});

describe("the simulator's log checks", () => {
  const gen = (id: string, n: number) => generateLine(id, n, 1);
  const com = (id: string, n: number) => commitLine(id, n, 2);
  it("accept agreeing logs", () => {
    const a = gen("a", 0) + com("a", 0) + com("b", 1);
    const b = gen("b", 0) + com("a", 0) + com("b", 1);
    expect(checkLogs([a, b], true)).toEqual([]);
  });
  it("catch a fork, a double commit, a gap, a commit never generated and a lost instance", () => {
    expect(checkLogs([gen("a", 0) + gen("b", 1) + com("a", 0), com("b", 0)], false)[0]).toMatch(
      /rule 3/,
    );
    expect(checkLogs([gen("a", 0) + com("a", 0) + com("a", 1)], false)[0]).toMatch(
      /strict: .* at seqs 0 and 1/,
    );
    expect(checkLogs([gen("a", 0) + com("a", 1)], false)[0]).toMatch(/gap/);
    expect(checkLogs([com("x", 0)], false)[0]).toMatch(/rule 2/);
    expect(checkLogs([gen("a", 0) + gen("b", 1) + com("a", 0)], true)[0]).toMatch(
      /never committed 1/,
    );
  });
  it("go on at S+1 after an install line: no gap below S, rule 3 only where both have the seq", () => {
    const a = gen("a", 0) + gen("b", 1) + gen("c", 2) + com("a", 0) + com("b", 1) + com("c", 2);
    const b = installLine(1, 5) + com("c", 2);
    expect(checkLogs([a, b], true)).toEqual([]);
    // What the snapshot covers counts as committed there: b is not lost on the installing rank,
    // but c (above the snapshot) must be in its log.
    expect(checkLogs([a, installLine(1, 5)], true)).toEqual([
      "strict: rank 1 never committed 1 generated instances (e.g. c)",
    ]);
    expect(checkLogs([a + gen("x", 3), installLine(1, 5) + com("x", 2)], false)).toEqual([
      "rule 3: ranks 0 and 1 differ at seq 2: c vs x",
    ]);
    expect(checkLogs([a, installLine(1, 5) + com("c", 3)], false)).toContain(
      "strict: rank 1 has a gap before seq 3",
    );
    expect(checkLogs([a, com("a", 0) + installLine(1, 5) + com("b", 1)], false)).toContain(
      "strict: rank 1 commits seq 1 under its installed snapshot",
    );
    expect(checkLogs([a, com("a", 0) + com("b", 1) + installLine(0, 5)], false)).toContain(
      "strict: rank 1 installs a snapshot up to seq 0 below its commit index 2",
    );
  });
  it("start a rank's log over after a lost disk: what it commits again must be what it had", () => {
    const a = gen("a", 0) + gen("b", 1) + com("a", 0) + com("b", 1);
    const again = com("a", 0) + com("b", 1) + lostDiskLine(3) + com("a", 0) + com("b", 1);
    expect(checkLogs([a, again], true)).toEqual([]);
    const other = com("a", 0) + lostDiskLine(3) + com("b", 0);
    expect(checkLogs([a, other], false)[0]).toMatch(/rule 1: rank 1 seq 0 has a and b/);
    const skipped = com("a", 0) + lostDiskLine(3) + com("b", 1);
    expect(checkLogs([a, skipped], false)).toContain("strict: rank 1 has a gap before seq 1");
  });
  it("excuse instances no rank committed that were lost with a disk or declared unknown", () => {
    const a = gen("a", 0) + com("a", 0);
    const lost = gen("x", 0) + lostDiskLine(3) + com("a", 0);
    expect(checkLogs([a, lost], true)).toEqual([]);
    // Generated after the loss: not excused.
    expect(checkLogs([a, lostDiskLine(3) + gen("y", 0) + com("a", 0)], true)).toHaveLength(2);
    // Committed by one rank: every rank must have it.
    expect(checkLogs([a + com("x", 1), lost], true)).toEqual([
      "strict: rank 1 never committed 1 generated instances (e.g. x)",
    ]);
    const unknown = gen("u", 0) + com("a", 0);
    expect(checkLogs([a, unknown], true)).toHaveLength(2);
    expect(checkLogs([a, unknown], true, new Set(["u"]))).toEqual([]);
  });
  it("fail a rank that committed nothing, converged or not (as the checker does)", () => {
    const a = gen("a", 0) + com("a", 0);
    expect(checkLogs([a, gen("b", 0)], false)).toEqual([
      "validity: rank 1 has empty commit (committed nothing)",
    ]);
    expect(checkLogs([a, ""], true)).toContain(
      "validity: rank 1 has empty commit (committed nothing)",
    );
    expect(checkLogs(["", ""], true)).toEqual([
      "validity: rank 0 has empty commit (committed nothing)",
      "validity: rank 1 has empty commit (committed nothing)",
    ]);
  });
});
