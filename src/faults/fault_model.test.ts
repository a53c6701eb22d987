// The shared fault model: what both a real rank's fault injection and the simulator's network do
// to a frame. Rates, cuts, counters and determinism are pinned here once for both.
import { describe, expect, it } from "vitest";
import type { Random } from "../ports.js";
import { FaultModel, msToUs, NO_FAULTS, type FaultSettings, type Verdict } from "./fault_model.js";
import { Prng } from "./prng.js";

/** A Random that returns the given values in turn and counts how many were drawn. */
class Scripted implements Random {
  drawn = 0;
  constructor(private readonly values: number[]) {}
  next(): number {
    const v = this.values[this.drawn++];
    if (v === undefined) throw new Error("drew more values than scripted");
    return v;
  }
}

const model = (s: Partial<FaultSettings>, random: Random = new Prng(1)) =>
  new FaultModel({ ...NO_FAULTS, ...s }, random);

function many(m: FaultModel, count: number, from = 0, to = 1): Verdict[] {
  return Array.from({ length: count }, () => m.decide(from, to));
}

const sentCopies = (vs: Verdict[]) =>
  vs.reduce((n, v) => n + (v.fate === "sent" ? v.delaysUs.length : 0), 0);

describe("FaultModel", () => {
  it("with no faults every frame is sent once, at once, and nothing is drawn or counted", () => {
    const random = new Scripted([]);
    const vs = many(model({}, random), 1000);
    expect(
      vs.every((v) => v.fate === "sent" && v.delaysUs.length === 1 && v.delaysUs[0] === 0),
    ).toBe(true);
    expect(random.drawn).toBe(0);
  });

  it("drop 0 never drops, drop 1 always drops, and each drop is counted", () => {
    const none = model({ drop: 0, dup: 0.5, minDelayUs: 10, maxDelayUs: 20 });
    expect(many(none, 2000).some((v) => v.fate === "dropped")).toBe(false);
    expect(none.stats.dropped).toBe(0);
    const all = model({ drop: 1, dup: 0.5 });
    expect(many(all, 2000).every((v) => v.fate === "dropped")).toBe(true);
    expect(all.stats).toEqual({ dropped: 2000, duplicated: 0, delayed: 0, cut: 0 });
  });

  it("drops and duplicates about the asked share", () => {
    const m = model({ drop: 0.3, dup: 0.2 }, new Prng(42));
    const vs = many(m, 10_000);
    const dropped = vs.filter((v) => v.fate === "dropped").length;
    expect(dropped).toBe(m.stats.dropped);
    expect(dropped).toBeGreaterThan(2800);
    expect(dropped).toBeLessThan(3200);
    // dup applies to the frames that were not dropped
    expect(m.stats.duplicated).toBeGreaterThan(0.18 * (10_000 - dropped));
    expect(m.stats.duplicated).toBeLessThan(0.22 * (10_000 - dropped));
    expect(sentCopies(vs)).toBe(10_000 - dropped + m.stats.duplicated);
  });

  it("dup 1 sends every frame twice, each copy with its own delay, and counts each duplicate once", () => {
    const m = model({ dup: 1, minDelayUs: 100, maxDelayUs: 100_000 });
    const vs = many(m, 500);
    expect(vs.every((v) => v.fate === "sent" && v.delaysUs.length === 2)).toBe(true);
    expect(m.stats.duplicated).toBe(500);
    expect(m.stats.delayed).toBe(1000);
    expect(vs.some((v) => v.fate === "sent" && v.delaysUs[0] !== v.delaysUs[1])).toBe(true);
    const noDelay = model({ dup: 1 });
    expect(noDelay.decide(0, 1)).toEqual({ fate: "sent", delaysUs: [0, 0] });
    expect(noDelay.stats).toEqual({ dropped: 0, duplicated: 1, delayed: 0, cut: 0 });
  });

  it("delays are whole µs within [min, max], reach both ends, and are counted per copy", () => {
    const m = model({ minDelayUs: 3, maxDelayUs: 7 });
    const delays = many(m, 2000).flatMap((v) => (v.fate === "sent" ? [...v.delaysUs] : []));
    expect(delays).toHaveLength(2000);
    expect(delays.every((d) => Number.isInteger(d) && d >= 3 && d <= 7)).toBe(true);
    expect(new Set(delays)).toEqual(new Set([3, 4, 5, 6, 7]));
    expect(m.stats.delayed).toBe(2000);
    // A drawn delay of 0 is no delay, and not counted as one.
    const zero = model({ minDelayUs: 0, maxDelayUs: 1 }, new Scripted([0, 0.99]));
    expect(zero.decide(0, 1)).toEqual({ fate: "sent", delaysUs: [0] });
    expect(zero.decide(0, 1)).toEqual({ fate: "sent", delaysUs: [1] });
    expect(zero.stats.delayed).toBe(1);
  });

  it("draws in a fixed order: drop, duplicate, then one delay per copy", () => {
    const random = new Scripted([0.5, 0.1, 0, 0.999_999]);
    const m = model({ drop: 0.3, dup: 0.2, minDelayUs: 10, maxDelayUs: 20 }, random);
    expect(m.decide(0, 1)).toEqual({ fate: "sent", delaysUs: [10, 20] });
    expect(random.drawn).toBe(4);
    const dropped = new Scripted([0.1]);
    expect(
      model({ drop: 0.3, dup: 0.2, minDelayUs: 10, maxDelayUs: 20 }, dropped).decide(0, 1),
    ).toEqual({ fate: "dropped" });
    expect(dropped.drawn).toBe(1); // a dropped frame draws nothing more
  });

  it("the same seed gives the same decisions; another seed others", () => {
    const s: Partial<FaultSettings> = { drop: 0.2, dup: 0.3, minDelayUs: 0, maxDelayUs: 50_000 };
    const a = many(model(s, new Prng(9)), 500);
    expect(many(model(s, new Prng(9)), 500)).toEqual(a);
    expect(many(model(s, new Prng(10)), 500)).not.toEqual(a);
  });

  it("a cut link always refuses, whatever the fault levels, and draws nothing", () => {
    const random = new Scripted([]);
    const m = model({ drop: 0, dup: 1, minDelayUs: 1, maxDelayUs: 5 }, random);
    m.setCut(0, 1, true);
    expect(many(m, 100, 0, 1).every((v) => v.fate === "cut")).toBe(true);
    expect(many(m, 100, 1, 0).every((v) => v.fate === "cut")).toBe(true);
    expect(m.stats).toEqual({ dropped: 0, duplicated: 0, delayed: 0, cut: 200 });
    expect(random.drawn).toBe(0);
    m.setCut(0, 1, false);
    expect(m.isCut(0, 1) || m.isCut(1, 0)).toBe(false);
  });

  it("a one-way cut refuses one direction only", () => {
    const m = model({});
    m.setCut(2, 3, true, true);
    expect(m.decide(2, 3).fate).toBe("cut");
    expect(m.decide(3, 2).fate).toBe("sent");
    m.healAll();
    expect(m.decide(2, 3).fate).toBe("sent");
  });

  it("a partition cuts every link across groups both ways, in and out; [] heals; unlisted ranks talk to all", () => {
    const m = model({});
    m.setPartition([
      [0, 1],
      [2, 3],
    ]);
    expect(m.decide(0, 2).fate).toBe("cut");
    expect(m.decide(3, 1).fate).toBe("cut");
    expect(m.decide(0, 1).fate).toBe("sent");
    expect(m.decide(4, 2).fate).toBe("sent");
    expect(m.admits(2, 0)).toBe(false);
    expect(m.admits(1, 0)).toBe(true);
    expect(m.stats.cut).toBe(3);
    // A new partition replaces the old one rather than adding to it.
    m.setPartition([
      [0, 2],
      [1, 3],
    ]);
    expect(m.decide(0, 2).fate).toBe("sent");
    expect(m.decide(0, 1).fate).toBe("cut");
    m.setPartition([]);
    expect(m.decide(0, 1).fate).toBe("sent");
    expect(m.admits(3, 0)).toBe(true);
  });

  it("a frame a rank sends itself meets no fault", () => {
    const random = new Scripted([]);
    const m = model({ drop: 1, dup: 1, minDelayUs: 5, maxDelayUs: 9 }, random);
    m.setPartition([[0], [1]]);
    expect(m.decide(0, 0)).toEqual({ fate: "sent", delaysUs: [0] });
    expect(m.admits(1, 1)).toBe(true);
    expect(m.stats).toEqual({ dropped: 0, duplicated: 0, delayed: 0, cut: 0 });
    expect(random.drawn).toBe(0);
  });

  it("new settings apply to the next frame (the simulator calms its network this way)", () => {
    const m = model({ drop: 1 });
    expect(m.decide(0, 1).fate).toBe("dropped");
    m.settings = { ...NO_FAULTS };
    expect(m.decide(0, 1).fate).toBe("sent");
  });

  it("converts ms to whole µs", () => {
    expect(msToUs(30)).toBe(30_000);
    expect(msToUs(1.25)).toBe(1250);
    expect(msToUs(0)).toBe(0);
  });
});
