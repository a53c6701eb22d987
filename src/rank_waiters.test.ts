import { describe, expect, it } from "vitest";
import { RankBusyError, RankStoppedError, Waiters } from "./rank_waiters.js";

const flush = () => new Promise((r) => setImmediate(r));

describe("Waiters", () => {
  it("answers each ticket once, and past the limit a caller waits for a free slot", async () => {
    const w = new Waiters<number>(2, "barriers");
    const a = await w.admit();
    const b = await w.admit();
    let third: { ticket: number; answer: Promise<number> } | null = null;
    void w.admit().then((t) => (third = t));
    await flush();
    expect(third).toBeNull(); // two in the rank: the third waits
    w.settle(a.ticket, 41);
    w.settle(a.ticket, 99); // a second answer for one ticket is ignored
    expect(await a.answer).toBe(41);
    await flush();
    expect(third).not.toBeNull();
    w.fail(b.ticket, new Error("no"));
    await expect(b.answer).rejects.toThrow("no");
    expect(w.size).toBe(1);
  });

  it("refuses callers past twice the limit, and rejects everyone when the rank stops", async () => {
    const w = new Waiters<number>(1, "barriers");
    const a = await w.admit();
    const queued = w.admit(); // waits for a slot
    await expect(w.admit()).rejects.toBeInstanceOf(RankBusyError);
    w.stop(new RankStoppedError("rank 0 stopped"));
    await expect(a.answer).rejects.toBeInstanceOf(RankStoppedError);
    await expect(queued).rejects.toBeInstanceOf(RankStoppedError);
    await expect(w.admit()).rejects.toBeInstanceOf(RankStoppedError);
  });

  it("weighs callers in bytes: past the byte limit they wait in order; a heavy one gets in alone", async () => {
    const w = new Waiters<number>(10, "submissions", 100);
    const a = w.tryAdmit(60);
    expect(a).not.toBeNull();
    expect(w.tryAdmit(50)).toBeNull(); // 110 bytes: no room
    const order: string[] = [];
    const big = w.admit(500).then((t) => (order.push("big"), t));
    void w.admit(10).then(() => order.push("small"));
    expect(w.tryAdmit(1)).toBeNull(); // others wait: no overtaking them
    await flush();
    expect(order).toEqual([]);
    w.settle(a!.ticket, 1);
    await flush();
    expect(order).toEqual(["big"]); // alone: nothing else was in
    w.settle((await big).ticket, 2);
    await flush();
    expect(order).toEqual(["big", "small"]);
    expect(w.size).toBe(1);
  });
});
