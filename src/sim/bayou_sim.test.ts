// Random Bayou scripts in the simulator: the real master and node code over the simulated clock
// and network. With background gossip the invariants are asserted (prefixes, replay, what crossed
// each restored link, late writes spread by gossip alone, one final log); without it the run is
// deterministic and must print exactly what the in-process reference (pure cores, no network)
// prints for the same script.
import { describe, expect, it } from "vitest";
import { BayouMaster } from "../bayou/master/master.js";
import type { Command } from "../bayou/script.js";
import { BayouInproc } from "../harness/bayou_inproc.js";
import { SimBayouCluster } from "./bayou_cluster.js";
import { checkCaughtUp, checkReconciled } from "./bayou_checks.js";
import { check, runBayouSim } from "./bayou_run.js";
import { CALM } from "./network.js";

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

  it("restores between reads, with gossip and 3% drops: each restored link reconciled (100 seeds)", async () => {
    const faults = { drop: 0.03, dup: 0, minDelayUs: 50, maxDelayUs: 3000 };
    for (let seed = 1; seed <= 100; seed += 1) {
      const r = await runBayouSim({ seed, steps: 80, gossipMs: 30, faults, restores: true });
      expect(r.problem, `seed ${seed}`).toBeNull();
    }
  }, 300_000);

  it("restores between reads, without gossip: what the in-process reference prints (60 seeds)", async () => {
    for (let seed = 1; seed <= 60; seed += 1) {
      const r = await runBayouSim({ seed, steps: 80, gossipMs: 0, restores: true });
      expect(r.problem, `seed ${seed}`).toBeNull();
      expect(r.output, `seed ${seed}`).toEqual(new BayouInproc().run(r.commands));
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

describe("what crossed a restored link", () => {
  const w = (stamp: number, csn: number | null) => ({ server: "a", stamp, csn, op: "put k v" });
  const s = (name: string, primary: boolean, writes: ReturnType<typeof w>[]) => ({
    name,
    primary,
    writes,
    db: [],
    consistent: true,
  });

  it("a write one end held before and the other lacks after is named", () => {
    const before = [s("P", true, []), s("a", false, [w(1, null)])] as const;
    const after = [s("P", true, []), s("a", false, [w(1, null)])] as const;
    expect(checkReconciled(before, after)).toMatch(/P-a: lacks 1@a/);
  });

  it("with the primary at one end, a write left tentative is named", () => {
    const before = [s("P", true, []), s("a", false, [w(1, null)])] as const;
    const after = [s("P", true, [w(1, 1)]), s("a", false, [w(1, null)])] as const;
    expect(checkReconciled(before, after)).toMatch(/a still holds 1@a tentatively/);
    const done = [s("P", true, [w(1, 1)]), s("a", false, [w(1, 1)])] as const;
    expect(checkReconciled(before, done)).toBeNull();
  });

  it("a client's new server lacking a linked server's commit is named", () => {
    const n = s("n", false, [w(1, 1)]);
    expect(checkCaughtUp(s("c", false, [w(1, null)]), [n])).toMatch(/tentatively, not its commit/);
    expect(checkCaughtUp(s("c", false, [w(1, 1)]), [n])).toBeNull();
  });
});

describe("background gossip in the simulator (virtual time)", () => {
  /** Three linked servers and a client of server 2; returns a runner of master commands. */
  async function threeServers(gossipMs: number, seed = 7, faults = CALM) {
    const cluster = new SimBayouCluster(seed, gossipMs, faults);
    const lines: string[] = [];
    const master = new BayouMaster(cluster, {
      line: (l) => lines.push(l),
      warn: (m) => lines.push(`WARN ${m}`),
      note: () => {},
    });
    const run = async (...cs: Command[]) => {
      for (const c of cs) await cluster.drive(master.apply(c), 60_000);
    };
    const idle = (ms: number) =>
      cluster.drive(new Promise<void>((r) => cluster.clock.after(ms, r)), ms * 2);
    const logs = async () => {
      lines.length = 0;
      await run(...["0", "1", "2"].map((id): Command => ({ kind: "printLog", id })));
      return lines.join("\n");
    };
    await run(
      ...["0", "1", "2"].map((id): Command => ({ kind: "joinServer", id })),
      { kind: "joinClient", client: "9", server: "2" },
      { kind: "stabilize" },
    );
    return { cluster, run, idle, logs };
  }
  const put: Command = { kind: "put", client: "9", song: "k", url: "v" };
  const tentative = "PUT:(k, v):FALSE";
  const stable = "PUT:(k, v):TRUE";

  it("spreads a write and its commit with no master command, within a second", async () => {
    const s = await threeServers(30);
    await s.run(put);
    await s.idle(1000);
    expect(await s.logs()).toBe([stable, stable, stable].join("\n"));
    await s.cluster.stopAll();
  });

  it("moves nothing while paused, however long; start spreads it", async () => {
    const s = await threeServers(30);
    await s.run({ kind: "pause" }, put);
    await s.idle(10_000);
    expect(await s.logs()).toBe(tentative);
    await s.run({ kind: "start" });
    await s.idle(1000);
    expect(await s.logs()).toBe([stable, stable, stable].join("\n"));
    await s.cluster.stopAll();
  });

  it("nothing lands after pause returns, even from a session under way (40 seeds)", async () => {
    const faults = { drop: 0, dup: 0, minDelayUs: 50, maxDelayUs: 3000 };
    for (let seed = 1; seed <= 40; seed += 1) {
      const s = await threeServers(30, seed, faults);
      await s.run(put);
      await s.idle(seed % 37); // gossip from server 2 may be anywhere in a session now
      await s.run({ kind: "pause" });
      const paused = await s.logs();
      await s.idle(5000);
      expect(await s.logs(), `seed ${seed}`).toBe(paused);
      await s.run({ kind: "start" });
      await s.idle(1000);
      expect(await s.logs(), `seed ${seed}`).toBe([stable, stable, stable].join("\n"));
      await s.cluster.stopAll();
    }
  });

  it("without gossip a write stays where it was accepted until the master moves it", async () => {
    const s = await threeServers(0);
    await s.run(put);
    await s.idle(10_000);
    expect(await s.logs()).toBe(tentative);
    await s.run({ kind: "stabilize" });
    expect(await s.logs()).toBe([stable, stable, stable].join("\n"));
    await s.cluster.stopAll();
  });
});
