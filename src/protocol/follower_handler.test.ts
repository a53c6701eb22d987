import { describe, expect, it } from "vitest";
import type { Effect, FollowerIn } from "./effects.js";
import { FollowerHandler } from "./follower_handler.js";
import type { WireMsg } from "./messages.js";

const T = 100_000; // timeout, µs
const net = (msg: WireMsg) => ({ kind: "net", msg }) as FollowerIn;

function run(h: FollowerHandler, inputs: FollowerIn[], nowUs = 0): Effect[] {
  const out: Effect[] = [];
  for (const i of inputs) h.onInput(i, nowUs, out);
  h.endStep(nowUs, out);
  return out;
}

describe("FollowerHandler (acceptor, rank 2 of 3)", () => {
  it("promises on read: persists the promise before the gather that reveals it", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    const out = run(h, [net({ t: "read", from: 1, round: 4, base: 0 })]);
    expect(out).toEqual([
      { kind: "persist", record: { r: "promise", round: 4 } },
      { kind: "send", to: 1, msg: { t: "gather", from: 2, round: 4, floor: 0, runs: [], backlog: 0 } },
    ]);
  });

  it("accepts an impose: persists the accept, then acks; the gather then reports it as a run", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    const out = run(h, [net({ t: "impose", from: 1, round: 4, seq: 0, ids: ["a", "b"] })]);
    expect(out.map((e) => e.kind)).toEqual(["persist", "persist", "send"]);
    expect(out[1]).toEqual({ kind: "persist", record: { r: "accept", round: 4, seq: 0, ids: ["a", "b"] } });
    expect(out[2]).toEqual({ kind: "send", to: 1, msg: { t: "ack", from: 2, round: 4, seq: 0, count: 2, backlog: 0 } });
    const gather = run(h, [net({ t: "read", from: 2, round: 5, base: 0 })]).find((e) => e.kind === "send");
    expect(gather).toMatchObject({ msg: { t: "gather", runs: [[0, 4, ["a", "b"]]] } });
  });

  it("acks the imposes of one step in one frame when they are contiguous, after persisting them all", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    const impose = (seq: number, ids: string[], round = 4) => net({ t: "impose", from: 1, round, seq, ids });
    const out = run(h, [impose(0, ["a", "b"]), impose(2, ["c"]), impose(5, ["f"]), impose(6, [])]);
    const acks = out.flatMap((e) => (e.kind === "send" && e.msg.t === "ack" ? [[e.msg.seq, e.msg.count]] : []));
    expect(acks).toEqual([[0, 3], [5, 1], [6, 0]]);
    expect(out.findIndex((e) => e.kind === "send")).toBeGreaterThan(out.map((e) => e.kind).lastIndexOf("persist"));
  });

  it("never accepts from a round lower than it promised (nack instead)", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    run(h, [net({ t: "read", from: 1, round: 7, base: 0 })]);
    const out = run(h, [net({ t: "impose", from: 0, round: 6, seq: 0, ids: ["x"] })]);
    expect(out).toEqual([{ kind: "send", to: 0, msg: { t: "nack", from: 2, round: 7 } }]);
    expect(h.state().entries).toEqual([]);
  });

  it("a later round overwrites an entry; the gather reports the highest round accepted", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    run(h, [
      net({ t: "impose", from: 1, round: 1, seq: 3, ids: ["old"] }),
      net({ t: "impose", from: 2, round: 2, seq: 3, ids: ["new"] }),
    ]);
    expect(h.state().entries).toEqual([{ seq: 3, round: 2, id: "new" }]);
  });

  it("drops entries only below its own rank's commit index, after recording the floor", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    run(h, [net({ t: "impose", from: 1, round: 1, seq: 0, ids: ["a", "b", "c"] })]);
    const out = run(h, [{ kind: "local", commitIndex: 2, backlog: 0 }]);
    expect(out).toEqual([{ kind: "persist", record: { r: "floor", seq: 2 } }]);
    expect(h.state()).toMatchObject({ floor: 2, entries: [{ seq: 2, id: "c" }] });
  });

  it("ignores an impose absurdly far above its floor (a hostile frame must not exhaust memory)", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    expect(run(h, [net({ t: "impose", from: 1, round: 1, seq: 2 ** 50, ids: ["x"] })]).filter((e) => e.kind === "send")).toEqual([]);
    expect(h.state().entries).toEqual([]);
  });

  it("asks for a bump after the read timeout without word from the leader, once per silence", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    run(h, [{ kind: "round", round: 4 }]); // leader of 4 is rank 1
    const quiet: Effect[] = [];
    h.onTime(T - 1, quiet);
    expect(quiet).toEqual([]);
    const out: Effect[] = [];
    h.onTime(T, out);
    expect(out).toEqual([{ kind: "toMsg", msg: { kind: "bump", round: 4, reason: "timeout", by: "follower" } }]);
    const again: Effect[] = [];
    h.onTime(T + 10, again);
    expect(again).toEqual([]);
  });

  it("does not time out in a round its own rank leads", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    run(h, [{ kind: "round", round: 5 }]); // leader of 5 is rank 2
    const out: Effect[] = [];
    h.onTime(10 * T, out);
    expect(out).toEqual([]);
  });

  it("restores promise, accepted entries and floor from storage records", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    h.restore([
      { r: "promise", round: 9 },
      { r: "accept", round: 9, seq: 0, ids: ["a", "b"] },
      { r: "floor", seq: 1 },
    ]);
    expect(h.state()).toEqual({ promised: 9, floor: 1, entries: [{ seq: 1, round: 9, id: "b" }] });
  });
});
