// The gate in virtual time: caps (the oldest unauthenticated connection makes room), the handshake
// deadline, stalled frames, the byte budget (the most stalled holder goes first), and what it says.
import { describe, expect, it } from "vitest";
import { SimClock } from "../sim/clock.js";
import { Gate, type GateLimits } from "./admission.js";

const LIMITS: GateLimits = {
  maxConnections: 10,
  maxUnauthenticated: 4,
  maxUnauthenticatedPerAddress: 3,
  handshakeMs: 1000,
  stallMs: 2000,
  maxPendingBytes: 1000,
};

function setup(limits: Partial<GateLimits> = {}) {
  const clock = new SimClock();
  const said: string[] = [];
  const gate = new Gate("test port", { ...LIMITS, ...limits }, clock, (l) => said.push(l));
  const sockets: { remoteAddress: string; destroyed: boolean; destroy(): void }[] = [];
  const connect = (address = "10.0.0.1") => {
    const s = {
      remoteAddress: address,
      destroyed: false,
      destroy() {
        s.destroyed = true;
      },
    };
    sockets.push(s);
    return { s, g: gate.admit(s) };
  };
  /** Lets ms pass, running the timers due meanwhile. */
  const wait = (ms: number) => {
    const end = clock.nowUs() + ms * 1000;
    while (clock.nextAt() <= end) clock.fireNext();
    clock.advanceTo(end);
  };
  return { clock, gate, said, connect, wait, sockets };
}

describe("Gate", () => {
  it("refuses connections past the port's cap, and says so once", () => {
    const { connect, gate, said } = setup({ maxConnections: 2 });
    const a = connect("a");
    const b = connect("b");
    a.g?.authenticated();
    b.g?.authenticated();
    const c = connect("c");
    const d = connect("d");
    expect([c.g, d.g]).toEqual([null, null]);
    expect([c.s.destroyed, d.s.destroyed]).toEqual([true, true]);
    expect(gate.stats.full).toBe(2);
    expect(said.filter((l) => l.includes("connection limit"))).toHaveLength(1);
    a.g?.closed();
    expect(connect("e").g).not.toBeNull();
  });

  it("closes the oldest unauthenticated connection to make room, per port and per address", () => {
    const { connect, gate, sockets } = setup();
    const first = connect("x");
    connect("x");
    connect("x");
    const fourth = connect("x"); // per address: 3
    expect(first.s.destroyed).toBe(true);
    expect(fourth.s.destroyed).toBe(false);
    connect("y");
    const other = connect("y"); // the port holds 4 unauthenticated: x's oldest left goes
    expect(other.g).not.toBeNull();
    expect(sockets.filter((s) => s.destroyed)).toHaveLength(2);
    expect(gate.load.unauthenticated).toBe(4);
    expect(gate.stats.crowded).toBe(2);
  });

  it("an authenticated connection no longer counts against the unauthenticated caps", () => {
    const { connect, gate } = setup();
    const honest = connect("x");
    honest.g?.authenticated();
    for (let i = 0; i < 8; i += 1) connect("x");
    expect(honest.s.destroyed).toBe(false);
    expect(gate.load).toMatchObject({ open: 4, unauthenticated: 3 });
  });

  it("closes a connection that has not finished its handshake by the deadline", () => {
    const { connect, wait, gate } = setup();
    const slow = connect();
    wait(500);
    const quick = connect();
    quick.g?.authenticated();
    wait(600);
    expect(slow.s.destroyed).toBe(true);
    expect(quick.s.destroyed).toBe(false);
    expect(gate.stats.handshake).toBe(1);
    wait(10_000);
    expect(quick.s.destroyed).toBe(false);
  });

  it("cuts a frame that receives no byte for stallMs, not one that keeps arriving", () => {
    const { connect, wait, gate } = setup();
    const stalled = connect();
    const steady = connect();
    stalled.g?.authenticated();
    steady.g?.authenticated();
    stalled.g?.holding(100);
    for (let t = 0; t < 10; t += 1) {
      steady.g?.holding(100 + t);
      wait(500);
    }
    expect(stalled.s.destroyed).toBe(true);
    expect(steady.s.destroyed).toBe(false);
    steady.g?.holding(0); // the frame completed: nothing to stall any more
    wait(10_000);
    expect(steady.s.destroyed).toBe(false);
    expect(gate.stats.stalled).toBe(1);
  });

  it("over the byte budget, closes the connections that waited longest for a byte first", () => {
    const { connect, wait, gate } = setup();
    const a = connect();
    const b = connect();
    const c = connect();
    a.g?.holding(400);
    wait(100);
    b.g?.holding(400);
    wait(100);
    expect(c.g?.holding(400)).toBe(true); // 1200 > 1000: a (idle longest) goes
    expect([a.s.destroyed, b.s.destroyed, c.s.destroyed]).toEqual([true, false, false]);
    expect(gate.load.pendingBytes).toBe(800);
    expect(c.g?.holding(1500)).toBe(false); // alone over the budget: only it goes
    expect([b.s.destroyed, c.s.destroyed]).toEqual([false, true]);
    expect(gate.load.pendingBytes).toBe(400);
    expect(gate.stats.overBudget).toBe(2);
  });

  it("forgets a connection once, however it closes", () => {
    const { connect, gate } = setup();
    const a = connect();
    a.g?.holding(300);
    a.g?.close();
    a.g?.closed();
    a.g?.closed();
    expect(gate.load).toEqual({ open: 0, unauthenticated: 0, pendingBytes: 0 });
    expect(a.g?.holding(10)).toBe(false);
  });

  it("refuses limits under 1", () => {
    expect(() => setup({ stallMs: 0 })).toThrow(/stallMs must be >= 1/);
  });
});
