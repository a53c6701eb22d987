import { describe, expect, it } from "vitest";
import type { Effect, LeaderIn } from "./effects.js";
import { LeaderHandler, type LeaderConfig } from "./leader_handler.js";
import type { AcceptedRun, WireMsg } from "./messages.js";

const T = 100_000;
const cfg = (over: Partial<LeaderConfig> = {}): LeaderConfig => ({ me: 0, n: 3, maxPerRound: 4, batch: 2, window: 4, timeoutUs: T, ...over });
const net = (msg: WireMsg) => ({ kind: "net", msg }) as LeaderIn;
const gather = (from: number, round: number, runs: AcceptedRun[], floor = 0, backlog = 0) =>
  net({ t: "gather", from, round, floor, runs, backlog });
const ack = (from: number, round: number, seq: number, count: number, backlog = 0) => net({ t: "ack", from, round, seq, count, backlog });

function feed(h: LeaderHandler, inputs: LeaderIn[], nowUs = 0): Effect[] {
  const out: Effect[] = [];
  for (const i of inputs) h.onInput(i, nowUs, out);
  h.endStep(nowUs, out);
  return out;
}
const sent = (out: Effect[]) => out.flatMap((e) => (e.kind === "broadcast" || e.kind === "send" ? [e.msg] : []));
const wants = (out: Effect[]) => out.flatMap((e) => (e.kind === "send" && e.msg.t === "want" ? [{ to: e.to, seq: e.msg.seq, max: e.msg.max }] : []));
const state = (enq: number, deq = 0, upTo = -1) => ({ epoch: 0, enq, deq, upTo });
const offer = (from: number, round: number, enq: number, deq = 0, upTo = -1) => net({ t: "offer", from, round, state: state(enq, deq, upTo) });
const grant = (from: number, round: number, seq: number, ids: string[], enq = 0, deq = 0) =>
  net({ t: "grant", from, round, seq, ids, state: state(enq, deq) });
/** Round 3, led by rank 0, past its read. */
function imposing(over: Partial<LeaderConfig> = {}): LeaderHandler {
  const h = new LeaderHandler(cfg(over));
  feed(h, [{ kind: "round", round: 3 }, gather(0, 3, []), gather(1, 3, [])]);
  return h;
}

describe("LeaderHandler (rank 0 of 3)", () => {
  it("starts a round it leads with a read from its commit point", () => {
    const h = new LeaderHandler(cfg());
    const out = feed(h, [{ kind: "local", commitIndex: 5, backlog: 0 }, { kind: "round", round: 3 }]);
    expect(sent(out)).toEqual([{ t: "read", from: 0, round: 3, base: 5 }]);
    expect(feed(h, [{ kind: "round", round: 4 }])).toEqual([]); // rank 1 leads round 4
  });

  it("re-imposes, per open seq, the value of the highest round, and fills holes with its own instances", () => {
    const h = new LeaderHandler(cfg());
    feed(h, [{ kind: "round", round: 6 }]);
    const out = feed(h, [
      gather(0, 6, [[0, 2, ["a", "b"]], [4, 2, ["e"]]]),
      gather(1, 6, [[1, 4, ["B"]]]),
    ]);
    expect(sent(out).filter((m) => m.t === "impose")).toEqual([
      { t: "impose", from: 0, round: 6, seq: 0, ids: ["a", "B"] },
      { t: "impose", from: 0, round: 6, seq: 4, ids: ["e"] },
    ]);
    expect(wants(out)).toEqual([{ to: 0, seq: 2, max: 2 }]);
    const more = feed(h, [grant(0, 6, 2, ["x", "y"])]);
    expect(sent(more)).toEqual([{ t: "impose", from: 0, round: 6, seq: 2, ids: ["x", "y"] }]);
  });

  it("ignores entries below the highest floor reported (those seqs are chosen)", () => {
    const h = new LeaderHandler(cfg());
    feed(h, [{ kind: "round", round: 3 }]);
    const out = feed(h, [gather(1, 3, [[0, 1, ["a", "b", "c"]]], 0), gather(2, 3, [], 2)]);
    expect(sent(out)).toEqual([{ t: "impose", from: 0, round: 3, seq: 2, ids: ["c"] }]);
  });

  it("allots free seqs to the ranks that offer, in arrival order, within the window", () => {
    const h = imposing({ maxPerRound: 100 }); // window 4 x batch 2: 8 seqs open at most
    const out = feed(h, [offer(2, 3, 3), offer(1, 3, 6)]);
    expect(wants(out)).toEqual([
      { to: 2, seq: 0, max: 3 },
      { to: 1, seq: 3, max: 5 },
    ]);
    // Three batches of at most 2 (acked and retransmitted on their own), sent as one frame.
    const imposed = sent(feed(h, [grant(1, 3, 3, ["a", "b", "c", "d", "e"], 6, 5)]));
    expect(imposed.filter((m) => m.t === "impose")).toEqual([{ t: "impose", from: 0, round: 3, seq: 3, ids: ["a", "b", "c", "d", "e"] }]);
    // Rank 1 acks batches 3 and 5 at once (not 7); with rank 0's ack of batch 3, only 3 has a majority.
    const partial = sent(feed(h, [ack(0, 3, 3, 2), ack(1, 3, 3, 4)])).filter((m) => m.t === "commit");
    expect(partial).toEqual([{ t: "commit", from: 0, seq: 3, ids: ["a", "b"] }]);
    const more = sent(feed(h, [ack(2, 3, 5, 3)])).filter((m) => m.t === "commit");
    expect(more).toEqual([{ t: "commit", from: 0, seq: 5, ids: ["c", "d"] }]); // batch 7 has one ack so far
  });

  it("merges adjacent batches of one step into one frame, and their commits too", () => {
    const h = imposing({ maxPerRound: 100 });
    feed(h, [offer(1, 3, 2), offer(2, 3, 2)]);
    const imposes = sent(feed(h, [grant(2, 3, 2, ["c", "d"], 2, 2), grant(1, 3, 0, ["a", "b"], 2, 2)]));
    expect(imposes).toEqual([{ t: "impose", from: 0, round: 3, seq: 0, ids: ["a", "b", "c", "d"] }]);
    const commits = sent(feed(h, [ack(0, 3, 0, 4), ack(2, 3, 0, 2), ack(2, 3, 2, 2)]));
    expect(commits).toEqual([{ t: "commit", from: 0, seq: 0, ids: ["a", "b", "c", "d"] }]);
  });

  it("never allots the same instances twice: stale offers are ignored, a grant brings the next allotment", () => {
    const h = imposing({ maxPerRound: 100 });
    expect(wants(feed(h, [offer(2, 3, 3)]))).toEqual([{ to: 2, seq: 0, max: 3 }]);
    expect(wants(feed(h, [offer(2, 3, 4)]))).toEqual([]); // a want is out: its grant will say more
    const out = feed(h, [grant(2, 3, 0, ["x", "y", "z"], 5, 3), offer(2, 3, 4, 0)]);
    expect(wants(out)).toEqual([{ to: 2, seq: 3, max: 2 }]);
  });

  it("allots a rank with nothing pending enough seqs to reach its bound instance", () => {
    const h = imposing({ maxPerRound: 100 });
    expect(wants(feed(h, [offer(1, 3, 2, 2, 5)]))).toEqual([{ to: 1, seq: 0, max: 6 }]);
    expect(wants(feed(h, [offer(2, 3, 0, 0, -1)]))).toEqual([]);
  });

  it("fills the run of a silent owner with its own instances, and ignores the owner's late grant", () => {
    const h = imposing({ maxPerRound: 100 });
    feed(h, [offer(2, 3, 2)]);
    const resent: Effect[] = [];
    h.onTime(T / 2, resent);
    expect(wants(resent)).toEqual([{ to: 2, seq: 0, max: 2 }]);
    const taken: Effect[] = [];
    h.onTime(T, taken);
    expect(wants(taken)).toEqual([{ to: 0, seq: 0, max: 2 }]);
    expect(sent(feed(h, [grant(2, 3, 0, ["late", "r2"])], T))).toEqual([]);
    expect(sent(feed(h, [grant(0, 3, 0, ["0-1", "0-2"])], T))).toEqual([{ t: "impose", from: 0, round: 3, seq: 0, ids: ["0-1", "0-2"] }]);
  });

  it("commits a batch once on a majority of acks, with its values", () => {
    const h = imposing();
    feed(h, [offer(0, 3, 2), grant(0, 3, 0, ["p", "q"])]);
    expect(sent(feed(h, [ack(0, 3, 0, 2)]))).toEqual([]);
    const out = feed(h, [ack(2, 3, 0, 2)]);
    expect(sent(out)).toContainEqual({ t: "commit", from: 0, seq: 0, ids: ["p", "q"] });
    expect(sent(feed(h, [ack(1, 3, 0, 2)])).filter((m) => m.t === "commit")).toEqual([]);
  });

  it("ignores acks that do not match the batch, and grants from another round, rank or size", () => {
    const h = imposing();
    feed(h, [offer(1, 3, 2)]);
    expect(sent(feed(h, [grant(1, 2, 0, ["z", "w"]), grant(2, 3, 0, ["z", "w"]), grant(1, 3, 0, ["z"])]))).toEqual([]);
    feed(h, [grant(1, 3, 0, ["p", "q"])]);
    expect(sent(feed(h, [ack(1, 3, 0, 1), ack(2, 3, 0, 1), ack(1, 2, 0, 2), ack(2, 2, 0, 2)]))).toEqual([]);
  });

  it("ends the round when its quota (-l) is imposed and committed, and hands it to a rank with work", () => {
    const h = imposing({ maxPerRound: 2 });
    expect(wants(feed(h, [offer(1, 3, 5)]))).toEqual([{ to: 1, seq: 0, max: 2 }]);
    feed(h, [grant(1, 3, 0, ["p", "q"])]);
    const out = feed(h, [ack(0, 3, 0, 2), ack(1, 3, 0, 2, 3)]);
    expect(sent(out)).toContainEqual({ t: "end", from: 0, round: 3, next: 4 });
  });

  it("retransmits an unacknowledged impose only to the ranks that did not ack", () => {
    const h = imposing();
    feed(h, [offer(0, 3, 1), grant(0, 3, 0, ["p"]), ack(0, 3, 0, 1)]);
    const out: Effect[] = [];
    h.onTime(T, out);
    const resent = out.filter((e) => e.kind === "send" && e.msg.t === "impose");
    expect(resent.map((e) => (e.kind === "send" ? e.to : -1))).toEqual([1, 2]);
  });

  it("gives up the round (asks for a bump) after three timeouts without progress", () => {
    const h = new LeaderHandler(cfg());
    feed(h, [{ kind: "round", round: 3 }]);
    const early: Effect[] = [];
    h.onTime(2 * T, early);
    expect(early.filter((e) => e.kind === "toMsg")).toEqual([]);
    const out: Effect[] = [];
    h.onTime(3 * T, out);
    expect(out).toContainEqual({ kind: "toMsg", msg: { kind: "bump", round: 3, reason: "giveup", by: "leader" } });
  });

  it("makes its promise durable before its read leaves", () => {
    const h = new LeaderHandler(cfg());
    const out = feed(h, [{ kind: "round", round: 3 }]);
    expect(out.map((e) => e.kind)).toEqual(["persist", "broadcast"]);
    expect(out[0]).toEqual({ kind: "persist", record: { r: "promise", round: 3 } });
  });

  it("after a restart never leads a round it may have led before (up to the restored promise)", () => {
    const h = new LeaderHandler(cfg(), 3);
    expect(feed(h, [{ kind: "round", round: 3 }])).toEqual([]);
    expect(h.active).toBe(false);
    expect(sent(feed(h, [{ kind: "round", round: 6 }]))).toEqual([{ t: "read", from: 0, round: 6, base: 0 }]);
  });

  it("an idle leader holding its round does not give it up", () => {
    const h = imposing();
    const out: Effect[] = [];
    for (let t = 1; t <= 10; t++) h.onTime(t * T, out);
    expect(out.filter((e) => e.kind === "toMsg")).toEqual([]);
  });
});
