// Read barriers on real ranks in the simulator: linearizable under drops, duplicates and delays
// (everything any rank had committed when a barrier started is at or below its answer), and
// never answered from a minority.
import { describe, expect, it } from "vitest";
import { SimCluster } from "./cluster.js";

const maxCommitIndex = (c: SimCluster) =>
  Math.max(...c.ranks.map((r, me) => (c.crashed.has(me) ? 0 : r.commitIndex)));

describe("read barriers in the simulator", () => {
  it("cover everything committed anywhere before they started, under faults", async () => {
    const c = await SimCluster.start({
      n: 5,
      seed: 21,
      faults: { drop: 0.1, dup: 0.05, minDelayUs: 100, maxDelayUs: 3000 },
      rank: { maxPerRound: 50, batch: 16 },
      workload: { genSeconds: 2, rate: 200, graceSeconds: 20 },
    });
    const problems: string[] = [];
    let answered = 0;
    for (let i = 0; i < 60; i++) {
      await c.runFor(40);
      const me = i % 5;
      const rank = c.ranks[me];
      if (!rank) continue;
      const before = maxCommitIndex(c);
      rank.readBarrier().then(
        (seq) => {
          answered++;
          if (seq + 1 < before)
            problems.push(`barrier ${i} on rank ${me}: ${seq} below ${before - 1}`);
          if (rank.commitIndex <= seq)
            problems.push(`barrier ${i}: rank ${me} has not committed ${seq}`);
        },
        (e: unknown) => problems.push(`barrier ${i}: ${String(e)}`),
      );
    }
    expect(await c.runUntilFinished(30)).toBe(true);
    await c.runFor(3000); // barriers started late may still wait for a commit
    await c.stop();
    expect(problems).toEqual([]);
    expect(answered).toBe(60);
  }, 60_000);

  it("waits while a majority is down, and answers once it is back", async () => {
    const c = await SimCluster.start({
      n: 3,
      seed: 4,
      workload: { genSeconds: 3, rate: 100, graceSeconds: 20 },
    });
    await c.runFor(500);
    await c.crash(1);
    await c.crash(2);
    const rank = c.ranks[0];
    const before = maxCommitIndex(c);
    expect(before).toBeGreaterThan(0);
    let answer: number | null = null;
    void rank?.readBarrier().then((seq) => (answer = seq));
    await c.runFor(2000);
    expect(answer).toBeNull();
    await c.restart(1, { genSeconds: 0 });
    await c.restart(2, { genSeconds: 0 });
    await c.runFor(2000);
    expect(answer).not.toBeNull();
    expect(answer).toBeGreaterThanOrEqual(before - 1);
    await c.stop();
  }, 60_000);
});
