import { describe, expect, it } from "vitest";
import type { Effect } from "./effects.js";
import { ReadBarriers } from "./read_barriers.js";

const T = 100_000;
const make = () => new ReadBarriers({ me: 1, n: 3, timeoutUs: T, createdUs: 1000 });
const probes = (out: Effect[]) =>
  out.flatMap((e) => (e.kind === "broadcast" && e.msg.t === "readIndex" ? [e.msg.nonce] : []));
const done = (out: Effect[]) =>
  out.flatMap((e) => (e.kind === "readDone" ? [{ ticket: e.ticket, seq: e.seq }] : []));
const ok = (from: number, nonce: number, upTo: number) =>
  ({ t: "readIndexOk", from, nonce, upTo }) as const;

describe("ReadBarriers (rank 1 of 3)", () => {
  it("probes every acceptor, takes the highest answer of a majority, waits for the commit index", () => {
    const r = make();
    const out: Effect[] = [];
    r.start(7, 0, out);
    const [nonce] = probes(out);
    expect(nonce).toBe(1001); // from the creation time: an earlier life's answers never match
    const after: Effect[] = [];
    r.onAnswer(ok(1, nonce as number, 5), 3, 10, after);
    expect(done(after)).toEqual([]); // one answer is no majority
    r.onAnswer(ok(2, nonce as number, 9), 3, 20, after);
    expect(done(after)).toEqual([]); // S = 8, and this rank has committed only up to 2
    r.resolve(9, after);
    expect(done(after)).toEqual([{ ticket: 7, seq: 8 }]);
  });

  it("never resolves from a minority, and repeats the probe to the silent ranks", () => {
    const r = make();
    const out: Effect[] = [];
    r.start(1, 0, out);
    const nonce = probes(out)[0] as number;
    r.onAnswer(ok(1, nonce, 0), 100, 10, out);
    expect(done(out)).toEqual([]);
    for (let t = T / 2; t <= 10 * T; t += T / 2) {
      const again: Effect[] = [];
      r.onTime(t, again);
      expect(again.map((e) => e.kind === "send" && e.to)).toEqual([0, 2]);
      expect(done(again)).toEqual([]);
    }
  });

  it("a barrier started while a probe is out waits for the next probe (sent after it started)", () => {
    const r = make();
    const out: Effect[] = [];
    r.start(1, 0, out);
    const first = probes(out)[0] as number;
    r.start(2, 5, out); // the probe in flight left before barrier 2 started
    expect(probes(out)).toHaveLength(1);
    const next: Effect[] = [];
    r.onAnswer(ok(0, first, 4), 10, 10, next);
    r.onAnswer(ok(1, first, 4), 10, 10, next);
    expect(done(next)).toEqual([{ ticket: 1, seq: 3 }]);
    const second = probes(next)[0] as number; // sent at once for barrier 2
    expect(second).toBe(first + 1);
    r.onAnswer(ok(0, first, 4), 10, 20, next); // late answer to the old probe: ignored
    r.onAnswer(ok(2, second, 7), 10, 20, next);
    r.onAnswer(ok(1, second, 6), 10, 20, next);
    expect(done(next)).toEqual([
      { ticket: 1, seq: 3 },
      { ticket: 2, seq: 6 },
    ]);
  });

  it("asks for new instances when its barriers wait a timeout on a commit index that does not move", () => {
    const r = make();
    const out: Effect[] = [];
    r.start(1, 0, out);
    const nonce = probes(out)[0] as number;
    // An acceptor reports a seq a dead leader imposed on it alone: S = 9, the log is at 3.
    r.onAnswer(ok(1, nonce, 3), 3, 10, out);
    r.onAnswer(ok(2, nonce, 10), 3, 10, out);
    expect(r.nudgeCount(3, 10, 256)).toBe(0); // starts the wait
    expect(r.nudgeCount(3, 10 + T - 1, 256)).toBe(0);
    expect(r.nudgeCount(3, 10 + T, 256)).toBe(7); // seqs 3..9
    expect(r.nudgeCount(5, 10 + T + 1, 256)).toBe(0); // the log moved: wait again
    expect(r.nudgeCount(5, 10 + 2 * T + 1, 4)).toBe(4); // at most maxNudge
    r.resolve(10, out);
    expect(done(out)).toEqual([{ ticket: 1, seq: 9 }]);
    expect(r.nudgeCount(10, 10 + 5 * T, 256)).toBe(0); // nothing waits
    expect(r.wakeAt()).toBe(Infinity);
  });
});
