// The consensus handler with a paced proposal source, and its step precondition. Its protocol rules
// (bindings, grants, offers, learning, repair) are transcript scripts: testdata/owner_*.txt,
// learner_*.txt, repair_*.txt and consensus_*.txt.
import { describe, expect, it } from "vitest";
import { GenerationSchedule } from "../workload/schedule.js";
import { ConsensusHandler, type ConsensusConfig } from "./consensus_handler.js";
import type { Effect } from "./effects.js";

const T = 100_000;
const cfg = (over: Partial<ConsensusConfig> = {}): ConsensusConfig => ({
  me: 1,
  n: 3,
  timeoutUs: T,
  createdUs: 0,
  fetchMax: 100,
  maxSnapshotBytes: 1 << 20,
  heldBytes: 1 << 20,
  ...over,
});
const lines = (out: Effect[]) => out.flatMap((e) => (e.kind === "log" ? [e.line] : []));

describe("ConsensusHandler (rank 1 of 3)", () => {
  it("takes what its paced source has due at each wake-up, logging each instance with its own counter", () => {
    const gen = new GenerationSchedule(1000, 10, 3, T);
    const h = new ConsensusHandler(cfg({ source: gen }));
    const idle: Effect[] = [];
    h.onTime(5000, idle);
    expect(lines(idle)).toEqual([]); // the source has not started: nothing is generated
    gen.maybeStart(6000, 3, 0); // every rank known: generation starts now
    expect(h.wakeAt()).toBe(6000);
    const out: Effect[] = [];
    h.onTime(9000, out); // 3 ms at 1000/s
    expect(lines(out)).toEqual([
      "generate Instance[1-0] in seq 0 at 9000\n",
      "generate Instance[1-1] in seq 1 at 9000\n",
      "generate Instance[1-2] in seq 2 at 9000\n",
    ]);
    expect(h.backlog).toBe(3);
  });

  it("a want between generation ticks takes every instance due by then before making a filler", () => {
    const gen = new GenerationSchedule(40_000, 10, 1, T);
    const h = new ConsensusHandler(cfg({ me: 0, n: 1, source: gen }));
    gen.maybeStart(0, 1, 0); // alone in the cluster: generation starts at 0
    h.onTime(0, []);
    const tick: Effect[] = [];
    h.onTime(10_000, tick); // 400 due; the next wake-up is 1 ms later
    expect(lines(tick)).toHaveLength(400);
    const out: Effect[] = [];
    h.onInput(
      { kind: "net", msg: { t: "want", from: 0, round: 0, seq: 0, max: 430 } },
      10_500,
      out,
    );
    const grant = out.find((e) => e.kind === "send" && e.msg.t === "grant");
    const ids = grant?.kind === "send" && grant.msg.t === "grant" ? grant.msg.ids : [];
    // 20 more fell due by 10.5 ms: instances 0-400..0-419, then 10 fillers numbered after them.
    expect(ids.slice(400)).toEqual(Array.from({ length: 30 }, (_, i) => `0-${400 + i}`));
    expect(h.stats.fillers).toBe(10);
  });

  it("refuses to step back in time (a precondition of every step)", () => {
    const h = new ConsensusHandler(cfg());
    h.onTime(T, []);
    expect(() => h.onTime(T - 1, [])).toThrow(/consensus: step at 99999 µs after one at 100000 µs/);
  });
});
