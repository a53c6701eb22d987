import { describe, expect, it } from "vitest";
import { GenerationSchedule } from "../workload/schedule.js";
import { ConsensusHandler, type ConsensusConfig } from "./consensus_handler.js";
import type { ConsensusIn, Effect } from "./effects.js";
import { commitLine, generateLine } from "./log_lines.js";
import type { WireMsg } from "./messages.js";

const T = 100_000;
const cfg = (over: Partial<ConsensusConfig> = {}): ConsensusConfig => ({
  me: 1, n: 3, timeoutUs: T, createdUs: 0, fetchMax: 100, emitCommits: false, ...over,
});
const net = (msg: WireMsg) => ({ kind: "net", msg }) as ConsensusIn;
const commit = (seq: number, ids: string[]) => net({ t: "commit", from: 0, seq, ids });

function feed(h: ConsensusHandler, inputs: ConsensusIn[], nowUs = 0): Effect[] {
  const out: Effect[] = [];
  for (const i of inputs) h.onInput(i, nowUs, out);
  return out;
}
const lines = (out: Effect[]) => out.flatMap((e) => (e.kind === "log" ? [e.line] : []));
const sends = (out: Effect[]) => out.flatMap((e) => (e.kind === "send" ? [{ to: e.to, msg: e.msg }] : []));
const grants = (out: Effect[]) => sends(out).filter((s) => s.msg.t === "grant");
const offers = (out: Effect[]) => sends(out).filter((s) => s.msg.t === "offer");
/** The leader (rank 1 here, so grants go back to it) allots seqs [seq, seq+max) in round. */
const want = (round: number, seq: number, max: number) => net({ t: "want", from: 1, round, seq, max });

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

  it("binds allotted instances to seqs durably before granting them; their commit clears the backlog", () => {
    const h = new ConsensusHandler(cfg());
    feed(h, [{ kind: "propose", count: 2 }]);
    const out = feed(h, [want(4, 0, 2)]);
    const persistAt = out.findIndex((e) => e.kind === "persist");
    expect(out[persistAt]).toEqual({ kind: "persist", record: { r: "bind", seq: 0, ids: ["1-0", "1-1"] } });
    expect(grants(out)).toEqual([{ to: 1, msg: { t: "grant", from: 1, round: 4, seq: 0, ids: ["1-0", "1-1"], state: { epoch: 0, enq: 2, deq: 2, upTo: 1 } } }]);
    const c = feed(h, [commit(1, ["1-1"]), commit(0, ["1-0"])], 7);
    expect(lines(c)).toEqual([commitLine("1-0", 0, 7), commitLine("1-1", 1, 7)]);
    expect(h.backlog).toBe(0);
    expect(h.commitIndex).toBe(2);
  });

  it("an instance whose seq was won by another value goes back to pending and is granted at a new seq", () => {
    const h = new ConsensusHandler(cfg());
    feed(h, [{ kind: "propose", count: 1 }, want(4, 0, 1)]);
    feed(h, [commit(0, ["0-9"])]);
    expect(h.stats.requeued).toBe(1);
    expect(h.backlog).toBe(1);
    const again = grants(feed(h, [want(7, 1, 1)]))[0]?.msg;
    expect(again?.t === "grant" && again.ids).toEqual(["1-0"]);
    expect(again?.t === "grant" && again.state).toEqual({ epoch: 0, enq: 2, deq: 2, upTo: 1 }); // requeued: queued twice
  });

  it("a want for a seq still bound to an own instance gets that same instance there", () => {
    const h = new ConsensusHandler(cfg());
    feed(h, [{ kind: "propose", count: 2 }, want(4, 0, 1)]);
    const g = grants(feed(h, [want(7, 0, 2)]))[0]?.msg;
    expect(g?.t === "grant" && g.ids).toEqual(["1-0", "1-1"]);
  });

  it("fills every allotted seq, generating fillers when nothing is pending", () => {
    const h = new ConsensusHandler(cfg());
    feed(h, [{ kind: "propose", count: 1 }]);
    const out = feed(h, [want(4, 3, 3)], 5);
    const g = grants(out)[0]?.msg;
    expect(g?.t === "grant" && g.ids).toEqual(["1-0", "1-1", "1-2"]);
    expect(lines(out)).toEqual([generateLine("1-1", 1, 5), generateLine("1-2", 2, 5)]);
    expect(h.stats.fillers).toBe(2);
  });

  it("a want between generation ticks takes every instance due by then before making a filler", () => {
    const gen = new GenerationSchedule(40_000, 10, 1, T);
    const h = new ConsensusHandler(cfg({ me: 0, n: 1, source: gen }));
    gen.maybeStart(0, 1, 0); // alone in the cluster: generation starts at 0
    h.onTime(0, []);
    const tick: Effect[] = [];
    h.onTime(10_000, tick); // 400 due; the next wake-up is 1 ms later
    expect(lines(tick)).toHaveLength(400);
    const granted = grants(feed(h, [net({ t: "want", from: 0, round: 0, seq: 0, max: 430 })], 10_500));
    const ids = granted[0]?.msg.t === "grant" ? granted[0].msg.ids : [];
    // 20 more fell due by 10.5 ms: instances 0-400..0-419, then 10 fillers numbered after them.
    expect(ids.slice(400)).toEqual(Array.from({ length: 30 }, (_, i) => `0-${400 + i}`));
    expect(h.stats.fillers).toBe(10);
  });

  it("grants nothing for a seq it knows is chosen (the asking round is stale)", () => {
    const h = new ConsensusHandler(cfg());
    feed(h, [commit(0, ["0-0"]), { kind: "propose", count: 1 }]);
    const g = grants(feed(h, [want(4, 0, 3)]))[0]?.msg;
    expect(g?.t === "grant" && g.ids).toEqual([]);
    expect(h.backlog).toBe(1);
  });

  it("offers to the leader of the current round at once, then again only when due", () => {
    const h = new ConsensusHandler(cfg());
    expect(offers(feed(h, [{ kind: "propose", count: 1 }]))).toEqual([]); // no round known yet
    const first = offers(feed(h, [{ kind: "round", round: 5 }], 10));
    expect(first).toEqual([{ to: 2, msg: { t: "offer", from: 1, round: 5, state: { epoch: 0, enq: 1, deq: 0, upTo: -1 } } }]);
    expect(offers(feed(h, [{ kind: "propose", count: 1 }], 20))).toEqual([]); // a want is expected: it will take these too
    const again: Effect[] = [];
    h.onTime(10 + T / 2, again); // no want came: say it again
    expect(offers(again).map((o) => o.msg.t === "offer" && o.msg.state.enq)).toEqual([2]);
    expect(offers(feed(h, [{ kind: "round", round: 6 }], 10 + T / 2))).toHaveLength(1); // a new leader hears at once
  });

  it("with instances but no round known yet, it does not ask to be woken (nothing to offer to)", () => {
    const h = new ConsensusHandler(cfg());
    feed(h, [{ kind: "propose", count: 1 }]);
    h.onTime(0, []); // the first status broadcast, due at once
    expect(h.wakeAt()).toBe(T / 2); // the next status, not an offer retry in the past (a busy loop)
  });

  it("after a grant it offers new instances at once; with nothing pending it reports its highest bound seq", () => {
    const h = new ConsensusHandler(cfg());
    feed(h, [{ kind: "round", round: 2 }, { kind: "propose", count: 1 }]);
    const g = grants(feed(h, [want(2, 40, 1)], 5))[0]?.msg;
    expect(g?.t === "grant" && g.state).toEqual({ epoch: 0, enq: 1, deq: 1, upTo: 40 });
    expect(offers(feed(h, [{ kind: "propose", count: 1 }], 6))).toHaveLength(1);
  });

  it("asks for a new round when its instances wait 10 timeouts without an allotment", () => {
    const h = new ConsensusHandler(cfg());
    feed(h, [{ kind: "round", round: 3 }, { kind: "propose", count: 1 }]);
    const early: Effect[] = [];
    h.onTime(10 * T - 1, early);
    expect(early.filter((e) => e.kind === "toMsg")).toEqual([]);
    const late: Effect[] = [];
    h.onTime(10 * T, late);
    expect(late).toContainEqual({ kind: "toMsg", msg: { kind: "bump", round: 3, reason: "giveup", by: "consensus" } });
  });

  it("warns loudly about a conflicting value for a committed seq and keeps the first", () => {
    const h = new ConsensusHandler(cfg());
    const out = feed(h, [commit(0, ["a"]), commit(0, ["b"])]);
    expect(h.stats.conflicts).toBe(1);
    expect(out).toContainEqual({ kind: "warn", line: "rank 1: SAFETY VIOLATION: seq 0 committed as a, then offered as b" });
    expect(h.committedIds()).toEqual(["a"]);
  });

  it("fetches from a peer that stays ahead, and serves fetches from its own log", () => {
    const h = new ConsensusHandler(cfg());
    feed(h, [net({ t: "status", from: 2, commitIndex: 5, backlog: 0, generated: 5, note: 0 })], 0);
    const later: Effect[] = [];
    h.onTime(T / 4, later);
    expect(sends(later)).toContainEqual({ to: 2, msg: { t: "fetch", from: 1, seq: 0, max: 100 } });
    feed(h, [net({ t: "fetched", from: 2, seq: 0, ids: ["a", "b", "c", "d", "e"] })], T / 4);
    expect(h.commitIndex).toBe(5);
    const served = feed(h, [net({ t: "fetch", from: 0, seq: 3, max: 10 })], T / 4);
    expect(sends(served)).toEqual([{ to: 0, msg: { t: "fetched", from: 1, seq: 3, ids: ["d", "e"] } }]);
  });

  it("refuses to step back in time (a precondition of every step)", () => {
    const h = new ConsensusHandler(cfg());
    h.onTime(T, []);
    expect(() => h.onTime(T - 1, [])).toThrow(/consensus: step at 99999 µs after one at 100000 µs/);
  });

  it("tells every peer at once when its note changes, and carries the note in every status", () => {
    const h = new ConsensusHandler(cfg());
    h.onTime(0, []); // the first status round
    const changed = sends(feed(h, [{ kind: "note", note: 3 }], 10));
    expect(changed.map((s) => s.to)).toEqual([0, 2]);
    expect(changed.every((s) => s.msg.t === "status" && s.msg.note === 3)).toBe(true);
    expect(sends(feed(h, [{ kind: "note", note: 3 }], 20))).toEqual([]); // unchanged: nothing to say
    const later: Effect[] = [];
    h.onTime(T / 2, later);
    expect(sends(later).filter((s) => s.msg.t === "status" && s.msg.note === 3)).toHaveLength(2);
  });
});
