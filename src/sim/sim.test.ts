// The simulator itself: a seed replays exactly, and each known protocol bug is caught.
import { describe, expect, it } from "vitest";
import { BUG_NAMES } from "./bugs.js";
import { commitLine, generateLine } from "../protocol/log_lines.js";
import { checkLogs } from "./check.js";
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

  for (const bug of BUG_NAMES) {
    it(`finds the injected bug "${bug}" within 200 seeds, and the same seed passes without it`, async () => {
      // Found means a safety violation: a bug may also just stall some seeds (e.g. skip-read, when
      // owners refuse seqs they know are committed), which is a liveness failure and not enough.
      const isSafety = (v: string) => !v.startsWith("liveness");
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
