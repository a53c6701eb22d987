// The session's keepalive schedule and its own deadline, on fake timers and a fake
// performance.now(): keepalives every TTL/3 from when each was sent, "expired" once no
// keepalive has been acknowledged for TTL minus the margin, or when the server says so.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NoSession, Unavailable } from "./errors.js";
import { Session, type SessionHost } from "./session.js";

/** A host whose keepalives the test answers one by one. */
function host() {
  const sent: { at: number; answer: (ttl: number) => void; fail: (e: Error) => void }[] = [];
  const closed: number[] = [];
  const h: SessionHost = {
    keepalive: () =>
      new Promise<number>((resolve, reject) =>
        sent.push({ at: performance.now(), answer: resolve, fail: reject }),
      ),
    close: (id) => {
      closed.push(id);
      return Promise.resolve();
    },
    forget: () => {},
  };
  return { h, sent, closed };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Session", () => {
  it("asks for whole-ms per-try timeouts whatever the TTL (the client refuses fractions)", async () => {
    const perTries: number[] = [];
    const h: SessionHost = {
      keepalive: (_id, _deadline, perTry) => {
        perTries.push(perTry);
        return Promise.resolve(5000);
      },
      close: () => Promise.resolve(),
      forget: () => {},
    };
    const s = new Session(h, 1, 5000, performance.now());
    await vi.advanceTimersByTimeAsync(5000);
    expect(perTries.length).toBeGreaterThanOrEqual(2);
    for (const t of perTries) expect(Number.isInteger(t)).toBe(true);
    expect(s.alive).toBe(true);
  });

  it("sends a keepalive every TTL/3 after the previous one was sent, while they are answered", async () => {
    const { h, sent } = host();
    const t0 = performance.now();
    const s = new Session(h, 7, 3000, t0);
    await vi.advanceTimersByTimeAsync(999);
    expect(sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(400); // the answer takes 400 ms ...
    sent[0]?.answer(3000);
    await vi.advanceTimersByTimeAsync(599); // ... the next one is due 1000 ms after the send
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.map((k) => k.at - t0)).toEqual([1000, 2000]);
    expect(s.alive).toBe(true);
  });

  it("expires itself at TTL minus the margin after the last acknowledged send", async () => {
    const { h, sent } = host();
    const s = new Session(h, 7, 3000, performance.now());
    const reasons: string[] = [];
    s.on("expired", (r) => reasons.push(r));
    await vi.advanceTimersByTimeAsync(1000);
    sent[0]?.answer(3000); // acknowledged: the deadline is 1000 + 3000 - 300 from the start
    await vi.advanceTimersByTimeAsync(2699); // later keepalives are never answered
    expect(s.alive).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.alive).toBe(false);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/no keepalive acknowledged/);
    expect(() => s.use()).toThrow(NoSession);
    expect(s.signal.aborted).toBe(true);
  });

  it("retries a failed keepalive soon, and expires at once when the server says the session ended", async () => {
    const { h, sent } = host();
    const s = new Session(h, 7, 3000, performance.now());
    let expired = 0;
    s.on("expired", () => expired++);
    await vi.advanceTimersByTimeAsync(1000);
    sent[0]?.fail(new Unavailable("down"));
    await vi.advanceTimersByTimeAsync(100);
    expect(sent).toHaveLength(2);
    sent[1]?.fail(new NoSession("gone"));
    await vi.advanceTimersByTimeAsync(0);
    expect([s.alive, expired]).toEqual([false, 1]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect([sent.length, expired]).toEqual([2, 1]);
  });

  it("close ends it on the server and stops the keepalives", async () => {
    const { h, sent, closed } = host();
    const s = new Session(h, 9, 3000, performance.now());
    let expired = 0;
    s.on("expired", () => expired++);
    await s.close();
    expect(closed).toEqual([9]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect([sent.length, expired, s.alive]).toEqual([0, 0, false]);
  });
});

describe("Session after the process was stopped past its deadline", () => {
  it("is not alive, refuses use() and aborts its signal at once, before any timer runs", () => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }); // timers only: none runs here
    let now = 10_000;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now);
    try {
      const { h, sent } = host();
      const s = new Session(h, 7, 3000, now);
      let expired = 0;
      s.on("expired", () => expired++);
      now += 2699; // the deadline is 3000 - 300 after the open
      expect(s.alive).toBe(true);
      now += 1 + 60_000; // SIGSTOPped for a minute, resumed: the deadline timer has not run yet
      expect(s.alive).toBe(false);
      expect(expired).toBe(1);
      expect(() => s.use()).toThrow(NoSession);
      expect(s.signal.aborted).toBe(true);
      expect(sent).toHaveLength(0);
    } finally {
      clock.mockRestore();
    }
  });

  it("use() alone expires it too (what the client calls before sending with a session)", () => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let now = 500;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now);
    try {
      const s = new Session(host().h, 8, 2000, now);
      expect(s.use()).toBe(8);
      now += 5000;
      expect(() => s.use()).toThrow(/has expired: no keepalive acknowledged/);
    } finally {
      clock.mockRestore();
    }
  });
});
