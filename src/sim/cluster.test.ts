import { describe, expect, it } from "vitest";
import { parseLogLine } from "../protocol/log_lines.js";
import { SimCluster } from "./cluster.js";

/** Commit table and generated ids read back from a rank's log lines. */
function parse(lines: string[]) {
  const commits: string[] = [];
  const generated: string[] = [];
  for (const text of lines) {
    const line = parseLogLine(text);
    if (line?.kind === "commit") {
      expect(line.seq).toBe(commits.length); // seq order, no gaps, no repeats
      commits.push(line.id);
    }
    if (line?.kind === "generate") generated.push(line.id);
  }
  return { commits, generated };
}

async function runAndCheck(n: number, seed: number, faults: SimCluster["net"]["faults"]) {
  const c = await SimCluster.start({
    n,
    seed,
    faults,
    rank: { maxPerRound: 50, batch: 16 },
    workload: { genSeconds: 2, rate: 200, graceSeconds: 20 },
  });
  const allFinished = await c.runUntilFinished(40);
  await c.stop();
  const logs = c.logs.map((l) => parse(l.lines));
  const generated = new Set(logs.flatMap((l) => l.generated));
  const summaries = c.ranks.map((r) => r.summary());
  // Recovery work the ranks did, summed: a leader resending an impose nobody acked, a rank fetching
  // commits it missed, an owner requeueing instances whose seq went to another value.
  const sum = (of: (s: (typeof summaries)[number]) => number) =>
    summaries.reduce((total, s) => total + of(s), 0);
  const recovery = {
    retransmits: sum((s) => s.protocol.leader.retransmits),
    fetchesSent: sum((s) => s.consensus.fetchesSent),
    requeued: sum((s) => s.consensus.requeued),
  };
  return {
    allFinished,
    logs,
    generated,
    summaries,
    net: { dropped: c.net.dropped, duplicated: c.net.duplicated },
    recovery,
  };
}

describe("simulated cluster (real rank code, virtual time)", () => {
  it("3 ranks on a calm network: every generated instance is committed everywhere, in one order", async () => {
    const { allFinished, logs, generated, net, recovery } = await runAndCheck(3, 1, {
      drop: 0,
      dup: 0,
      minDelayUs: 100,
      maxDelayUs: 300,
    });
    expect(allFinished).toBe(true);
    expect(allFinished).toBe(true);
    // Nothing lost or repeated, so nothing to recover: the faulty test's counters below mean something.
    expect(net).toEqual({ dropped: 0, duplicated: 0 });
    expect(recovery).toEqual({ retransmits: 0, fetchesSent: 0, requeued: 0 });
    expect(generated.size).toBeGreaterThanOrEqual(3 * 400);
    for (const l of logs) {
      expect(l.commits).toEqual(logs[0]?.commits);
      expect(new Set(l.commits)).toEqual(generated); // nothing lost, nothing twice
      expect(l.commits.length).toBe(generated.size);
    }
  });

  it("dropped, duplicated and reordered messages lose no commit and fork nothing (5 ranks)", async () => {
    const { allFinished, logs, generated, net, recovery } = await runAndCheck(5, 7, {
      drop: 0.2,
      dup: 0.1,
      minDelayUs: 100,
      maxDelayUs: 5000,
    });
    expect(allFinished).toBe(true);
    // The faults happened, and the ranks had to work around the losses: leaders resent imposes
    // and ranks fetched the commits they missed (the calm run above does neither).
    expect(net.dropped).toBeGreaterThan(0);
    expect(net.duplicated).toBeGreaterThan(0);
    expect(recovery.retransmits).toBeGreaterThan(0);
    expect(recovery.fetchesSent).toBeGreaterThan(0);
    // The duplicates did nothing visible: every commit below appears once, at its own seq.
    for (const l of logs) {
      expect(l.commits).toEqual(logs[0]?.commits);
      expect(new Set(l.commits)).toEqual(generated);
      expect(l.commits.length).toBe(generated.size);
    }
  });
});

describe("simulated crashes (kill -9 and restart from disk and log)", () => {
  it("ranks crashed and restarted (two at once, then a third while one is down) lose nothing and fork nothing", async () => {
    const c = await SimCluster.start({
      n: 5,
      seed: 3,
      faults: { drop: 0.05, dup: 0.05, minDelayUs: 100, maxDelayUs: 2000 },
      rank: { maxPerRound: 50, batch: 16 },
      workload: { genSeconds: 3, rate: 200, graceSeconds: 30 },
    });
    await c.runFor(1200);
    await c.crash(1);
    await c.crash(3);
    await c.runFor(700);
    await c.restart(1);
    await c.runFor(300);
    await c.crash(4);
    await c.runFor(200);
    await c.restart(3);
    await c.restart(4);
    expect(await c.runUntilFinished(60)).toBe(true);
    await c.stop();
    const logs = c.logs.map((l) => parse(l.lines));
    const generated = new Set(logs.flatMap((l) => l.generated));
    expect(generated.size).toBeGreaterThan(2000);
    for (const l of logs) {
      expect(l.commits).toEqual(logs[0]?.commits);
      expect(new Set(l.commits)).toEqual(generated);
      expect(l.commits.length).toBe(generated.size);
    }
  });
});
