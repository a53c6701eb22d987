// A seed's plan: lost disks are placed where they keep the rules, and drawing them changed nothing
// else a seed had.
import { describe, expect, it } from "vitest";
import { downIntervals, drawPlan, type FaultEvent } from "./plan.js";

/** The lost-disk rank counts as down from the loss until 2 s after its restart (catching up). */
const lostUntil = (e: FaultEvent, safetyMs: number) => Math.min(e.atMs + e.forMs, safetyMs) + 2000;

describe("seed plans", () => {
  it("place lost disks one at a time, with never more than a minority down", () => {
    let seeds = 0;
    const broken: string[] = [];
    for (const n of [3, 5]) {
      for (let seed = 1; seed <= 300; seed++) {
        const plan = drawPlan(seed, n);
        const lost = plan.events.filter((e) => e.kind === "lostDisk");
        if (lost.length > 0) seeds++;
        const down = downIntervals(plan.events, n, plan.safetyMs);
        for (let t = 0; t < plan.safetyMs + 2000 && lost.length > 0; t += 10) {
          const now = lost.filter((e) => t >= e.atMs && t < lostUntil(e, plan.safetyMs));
          if (now.length > 1) broken.push(`n ${n} seed ${seed}: two lost disks at ${t} ms`);
          const rank = now[0]?.rank;
          if (rank === undefined) continue;
          const others = down.filter(
            (list, r) => r !== rank && list.some((i) => t >= i.from && t < i.to),
          ).length;
          if (others + 1 > Math.floor((n - 1) / 2))
            broken.push(`n ${n} seed ${seed}: ${others + 1} ranks down at ${t} ms`);
        }
      }
    }
    expect(broken).toEqual([]);
    expect(seeds).toBeGreaterThan(150); // about a third of them
  });

  it("replay crash events as the run does: a crash of a crashed rank does nothing", () => {
    const events: FaultEvent[] = [
      { atMs: 100, forMs: 500, kind: "crash", rank: 1 },
      { atMs: 200, forMs: 100, kind: "crash", rank: 1 }, // ignored; its restart at 300 counts
      { atMs: 900, forMs: 5000, kind: "crash", rank: 0 }, // up again at the end of the phase
      { atMs: 50, forMs: 500, kind: "pause", rank: 2 },
    ];
    expect(downIntervals(events, 3, 2000)).toEqual([
      [{ from: 900, to: 2000 }],
      [{ from: 100, to: 300 }],
      [],
    ]);
  });
});
