import { describe, expect, it } from "vitest";
import { SystemClock } from "../io/system_clock.js";
import { Chan } from "./chan.js";

const clock = new SystemClock();
type Msg = { n: number };

describe("Chan", () => {
  it("a read on an empty channel times out with undefined and leaves nothing registered", async () => {
    const ch = new Chan<Msg>("t", 4, clock);
    const t0 = Date.now();
    expect(await ch.recv(30)).toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(ch.parkedReaders()).toBe(0);
  });

  it("a write to a full channel returns false and is counted; nothing already queued is lost", () => {
    const ch = new Chan<Msg>("t", 2, clock);
    expect(ch.offer({ n: 1 })).toBe(true);
    expect(ch.offer({ n: 2 })).toBe(true);
    expect(ch.offer({ n: 3 })).toBe(false);
    expect(ch.refused).toBe(1);
    expect(ch.size()).toBe(2);
    expect(ch.poll()).toEqual({ n: 1 });
    expect(ch.poll()).toEqual({ n: 2 });
    expect(ch.poll()).toBeUndefined();
  });

  it("no message is lost after a timed-out read (the abandoned read does not eat the next value)", async () => {
    const ch = new Chan<Msg>("t", 4, clock);
    for (let i = 0; i < 50; i++) expect(await ch.recv(1)).toBeUndefined();
    expect(ch.parkedReaders()).toBe(0);
    expect(ch.offer({ n: 7 })).toBe(true);
    expect(ch.poll()).toEqual({ n: 7 });
  });

  it("a parked read wakes with a value written later, in order, and unregisters", async () => {
    const ch = new Chan<Msg>("t", 4, clock);
    const pending = ch.recv(1000);
    expect(ch.parkedReaders()).toBe(1);
    setTimeout(() => {
      ch.offer({ n: 1 });
      ch.offer({ n: 2 });
    }, 5);
    expect(await pending).toEqual({ n: 1 });
    expect(ch.parkedReaders()).toBe(0);
    expect(await ch.recv(1000)).toEqual({ n: 2 });
  });

  it("delivers every value exactly once under many interleaved timed reads", async () => {
    const ch = new Chan<Msg>("t", 8, clock);
    const got: number[] = [];
    const reader = (async () => {
      while (got.length < 200) {
        const m = await ch.recv(2);
        if (m) got.push(m.n);
      }
    })();
    for (let i = 0; i < 200;) {
      if (ch.offer({ n: i })) i++;
      else await new Promise((r) => setTimeout(r, 1));
      if (i % 17 === 0) await new Promise((r) => setTimeout(r, 3)); // let some reads time out
    }
    await reader;
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it("closing wakes a parked reader with undefined; writes to a closed channel are refused", async () => {
    const ch = new Chan<Msg>("t", 2, clock);
    const pending = ch.recv(1000);
    ch.close();
    expect(await pending).toBeUndefined();
    expect(ch.offer({ n: 1 })).toBe(false);
    expect(await ch.recv(10)).toBeUndefined();
  });

  it("rejects a capacity below 1", () => {
    expect(() => new Chan<Msg>("t", 0, clock)).toThrow(/capacity/);
  });
});
