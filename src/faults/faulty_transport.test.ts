import { describe, expect, it } from "vitest";
import type { WireMsg } from "../protocol/messages.js";
import type { Transport } from "../ports.js";
import { SimClock } from "../sim/clock.js";
import { NO_FAULTS, type FaultSettings } from "./fault_model.js";
import { FaultyTransport } from "./faulty_transport.js";
import { Prng } from "./prng.js";

/** A transport that records what it was asked to send, and lets a test deliver inbound frames. */
class Recorder implements Transport {
  sent: Array<{ to: number; msg: WireMsg; atUs: number }> = [];
  handler: (m: WireMsg) => void = () => {};
  constructor(private readonly clock: SimClock) {}
  send(to: number, msg: WireMsg): void {
    this.sent.push({ to, msg, atUs: this.clock.nowUs() });
  }
  onMessage(h: (m: WireMsg) => void): void {
    this.handler = h;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ping = (round: number): WireMsg => ({ t: "ping", from: 0, round });

function setup(spec: Partial<FaultSettings>, seed = 1) {
  const clock = new SimClock(0);
  const inner = new Recorder(clock);
  const ft = new FaultyTransport(inner, 0, { ...NO_FAULTS, ...spec }, new Prng(seed), clock);
  return { clock, inner, ft };
}

function sendMany(ft: FaultyTransport, clock: SimClock, count: number) {
  for (let i = 0; i < count; i++) ft.send(1, ping(i));
  while (clock.fireNext());
}

describe("FaultyTransport", () => {
  it("passes everything through untouched when no fault is set", () => {
    const { ft, inner, clock } = setup({});
    sendMany(ft, clock, 100);
    expect(inner.sent.map((s) => (s.msg as { round: number }).round)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it("drops about the asked share of frames, and the decision is the seed's", () => {
    const a = setup({ drop: 0.3 }, 42);
    sendMany(a.ft, a.clock, 2000);
    expect(a.ft.stats.dropped).toBeGreaterThan(500);
    expect(a.ft.stats.dropped).toBeLessThan(700);
    expect(a.inner.sent.length).toBe(2000 - a.ft.stats.dropped);
    const b = setup({ drop: 0.3 }, 42);
    sendMany(b.ft, b.clock, 2000);
    expect(b.inner.sent.map((s) => s.msg)).toEqual(a.inner.sent.map((s) => s.msg));
    const c = setup({ drop: 0.3 }, 43);
    sendMany(c.ft, c.clock, 2000);
    expect(c.inner.sent.map((s) => s.msg)).not.toEqual(a.inner.sent.map((s) => s.msg));
  });

  it("a delayed frame arrives later, within the range, and delays reorder frames", () => {
    const { ft, inner, clock } = setup({ minDelayUs: 5000, maxDelayUs: 20_000 });
    sendMany(ft, clock, 200);
    expect(inner.sent).toHaveLength(200);
    for (const s of inner.sent) {
      expect(s.atUs).toBeGreaterThanOrEqual(5000);
      expect(s.atUs).toBeLessThanOrEqual(20000);
    }
    const order = inner.sent.map((s) => (s.msg as { round: number }).round);
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it("duplicates about the asked share of frames", () => {
    const { ft, inner, clock } = setup({ dup: 0.2 }, 7);
    sendMany(ft, clock, 1000);
    expect(inner.sent.length).toBe(1000 + ft.stats.duplicated);
    expect(ft.stats.duplicated).toBeGreaterThan(150);
    expect(ft.stats.duplicated).toBeLessThan(250);
  });

  it("never touches frames a rank sends itself", () => {
    const { ft, inner, clock } = setup({ drop: 1 });
    ft.send(0, ping(1));
    while (clock.fireNext());
    expect(inner.sent).toHaveLength(1);
  });

  it("a partition cuts links across groups both ways, and healing restores them", () => {
    const { ft, inner } = setup({});
    const got: WireMsg[] = [];
    ft.onMessage((m) => got.push(m));
    ft.setPartition([
      [0, 1],
      [2, 3],
    ]);
    ft.send(1, ping(1));
    ft.send(2, ping(2));
    inner.handler({ t: "ping", from: 3, round: 3 });
    inner.handler({ t: "ping", from: 1, round: 4 });
    expect(inner.sent.map((s) => s.to)).toEqual([1]);
    expect(got).toEqual([{ t: "ping", from: 1, round: 4 }]);
    // What a status file reports as proof: the groups in force, and the frames cut (out and in).
    expect(ft.groups).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(ft.stats.cut).toBe(2);
    ft.setPartition([]);
    expect(ft.groups).toEqual([]);
    ft.send(2, ping(5));
    inner.handler({ t: "ping", from: 3, round: 6 });
    expect(inner.sent.map((s) => s.to)).toEqual([1, 2]);
    expect(got).toHaveLength(2);
    expect(ft.stats.cut).toBe(2);
  });

  it("counts what it did to frames (the counters a rank's summary line and status report)", () => {
    const { ft, clock } = setup({ drop: 0.2, dup: 0.2, minDelayUs: 1000, maxDelayUs: 2000 }, 3);
    sendMany(ft, clock, 500);
    const { dropped, duplicated, delayed, cut } = ft.stats;
    expect(dropped).toBeGreaterThan(0);
    expect(duplicated).toBeGreaterThan(0);
    expect(delayed).toBe(500 - dropped + duplicated); // every copy that left was delayed
    expect(cut).toBe(0);
    const quiet = setup({});
    sendMany(quiet.ft, quiet.clock, 100);
    expect(quiet.ft.stats).toEqual({ dropped: 0, duplicated: 0, delayed: 0, cut: 0 });
  });
});
