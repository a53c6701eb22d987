import { describe, expect, it } from "vitest";
import type { WireMsg } from "../protocol/messages.js";
import type { Transport } from "../ports.js";
import { FailingAcceptor } from "./failing_acceptor.js";
import { Prng } from "./prng.js";

class Loopback implements Transport {
  private handler: (msg: WireMsg) => void = () => {};
  send(_to: number, msg: WireMsg): void {
    this.handler(msg);
  }
  onMessage(handler: (msg: WireMsg) => void): void {
    this.handler = handler;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe("FailingAcceptor (--fail-rate)", () => {
  it("refuses about p of the reads and imposes, and nothing else", () => {
    const t = new FailingAcceptor(new Loopback(), 0.3, new Prng(7));
    const seen: string[] = [];
    t.onMessage((m) => seen.push(m.t));
    for (let k = 0; k < 10_000; k++) {
      t.send(0, { t: "read", from: 1, round: 1, base: 0 });
      t.send(0, { t: "impose", from: 1, round: 1, seq: k, ids: [] });
      t.send(0, { t: "ping", from: 1, round: 1 });
    }
    const count = (kind: string) => seen.filter((x) => x === kind).length;
    expect(count("ping")).toBe(10_000);
    expect(count("read")).toBeGreaterThan(6_700);
    expect(count("read")).toBeLessThan(7_300);
    expect(count("impose")).toBeGreaterThan(6_700);
    expect(count("impose")).toBeLessThan(7_300);
    expect(t.refused).toBe(20_000 - count("read") - count("impose"));
  });
});
