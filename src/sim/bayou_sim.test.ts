// Random Bayou scripts in the simulator: the real master and node code over the simulated clock
// and network. With background gossip the invariants are asserted (prefixes, replay, one final
// log); without it the run is deterministic and must print exactly what the in-process reference
// (pure cores, no network) prints for the same script.
import { describe, expect, it } from "vitest";
import { BayouInproc } from "../harness/bayou_inproc.js";
import { check, runBayouSim } from "./bayou_run.js";

describe("Bayou in the simulator", () => {
  it("200 seeds with gossip and reordering delays: one final log, stable prefixes", async () => {
    const faults = { drop: 0, dup: 0, minDelayUs: 50, maxDelayUs: 3000 };
    for (let seed = 1; seed <= 200; seed += 1) {
      const r = await runBayouSim({ seed, steps: 100, gossipMs: 30, faults });
      expect(r.problem, `seed ${seed}`).toBeNull();
    }
  }, 300_000);

  it("a network that drops 3% of frames loses no acknowledged write (40 seeds)", async () => {
    const faults = { drop: 0.03, dup: 0, minDelayUs: 50, maxDelayUs: 3000 };
    for (let seed = 1; seed <= 40; seed += 1) {
      const r = await runBayouSim({ seed, steps: 60, gossipMs: 30, faults });
      expect(r.problem, `seed ${seed}`).toBeNull();
    }
  }, 300_000);

  it("without gossip, prints what the in-process reference prints (60 seeds)", async () => {
    for (let seed = 1; seed <= 60; seed += 1) {
      const r = await runBayouSim({ seed, steps: 60, gossipMs: 0 });
      expect(r.problem, `seed ${seed}`).toBeNull();
      const ref = new BayouInproc().run(r.commands);
      expect(r.output, `seed ${seed}`).toEqual(ref);
    }
  }, 300_000);

  it("the checks fail on a forked stable log, a stale DB and a diverged final log", () => {
    const w = (stamp: number, csn: number | null) => ({ server: "R", stamp, csn, op: "put k v" });
    const s = (name: string, writes: ReturnType<typeof w>[], consistent = true) => ({
      name,
      primary: name === "R",
      writes,
      db: [],
      consistent,
    });
    expect(check([s("R", [w(1, 1), w(2, 2)]), s("a", [w(1, 1)])], true)).toMatch(/differs/);
    expect(check([s("R", [w(1, 1), w(2, 2)]), s("a", [w(2, 1)])], false)).toMatch(/prefix/);
    expect(check([s("R", [w(1, 1)], false)], false)).toMatch(/replay/);
    expect(check([s("R", [w(1, 1), w(2, null)]), s("a", [w(1, 1), w(2, null)])], true)).toMatch(
      /tentative/,
    );
    expect(check([s("R", [w(1, 1)]), s("a", [w(1, 1)])], true)).toBeNull();
  });
});
