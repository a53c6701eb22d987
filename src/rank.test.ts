// The library API: ranks built in-process over TCP on loopback, proposals, commit iteration, stop.
import { afterEach, describe, expect, it } from "vitest";
import { freePorts } from "./cli/launch.js";
import { DEFAULTS, MemoryStorage, Rank, SystemClock, TcpTransport, type Commit } from "./index.js";
import type { StorageRecord } from "./protocol/effects.js";
import { parseLogLines } from "./protocol/log_lines.js";
import type { Storage } from "./ports.js";
import { Prng } from "./faults/prng.js";
import { MemoryLogSink, SimClock, SimNetwork } from "./testing.js";
import { BackgroundWorkload } from "./workload/driver.js";

let ranks: Rank[] = [];
afterEach(async () => {
  await Promise.all(ranks.map((r) => r.stop()));
  ranks = [];
});

async function take(iter: AsyncGenerator<Commit>, count: number): Promise<Commit[]> {
  const got: Commit[] = [];
  for await (const c of iter) {
    got.push(c);
    if (got.length === count) break;
  }
  return got;
}

describe("Rank as a library", () => {
  it("three in-process ranks over TCP commit proposals from all of them, in the same order", async () => {
    const ports = await freePorts(3);
    const addrs = ports.map((port) => ({ host: "127.0.0.1", port }));
    for (let me = 0; me < 3; me++) {
      const transport = new TcpTransport(me, addrs);
      await transport.listen();
      const cfg = {
        ...DEFAULTS,
        me,
        n: 3,
        timeoutMs: 50,
        maxPerRound: 10,
        genSeconds: 0,
        rate: 0,
        graceSeconds: 5,
        batch: 4,
        window: 4,
        channelCapacity: 256,
        fetchMax: 64,
      };
      ranks.push(
        await Rank.create(
          cfg,
          {
            clock: new SystemClock(),
            transport,
            storage: new MemoryStorage(),
            logSink: new MemoryLogSink(),
          },
          { emitCommits: true },
        ),
      );
    }
    ranks.forEach((r) => r.start());
    const streams = ranks.map((r) => take(r.commits(), 15));
    ranks.forEach((r) => expect(r.propose(5)).toBe(true));
    const seen = await Promise.all(streams);
    expect(seen[0]?.map((c) => c.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    const ids = new Set(seen[0]?.map((c) => c.id));
    for (const me of [0, 1, 2])
      for (let k = 0; k < 5; k++) expect(ids.has(`${me}-${k}`)).toBe(true);
  });
});

/** Storage that checks, at every sync, that each instance it makes durable in a binding already has
 * its generate line handed to the log (else a crash in between could reuse the id). */
class OrderCheckingStorage implements Storage {
  private pending: StorageRecord[] = [];
  violations = 0;
  binds = 0;
  constructor(private readonly sink: MemoryLogSink) {}
  append(r: StorageRecord): void {
    this.pending.push(r);
  }
  sync(): Promise<void> {
    const flushed = new Set(
      parseLogLines(this.sink.text()).flatMap((l) => (l.kind === "generate" ? [l.id] : [])),
    );
    for (const r of this.pending) {
      if (r.r !== "bind") continue;
      this.binds++;
      for (const id of r.ids) if (!flushed.has(id)) this.violations++;
    }
    this.pending = [];
    return Promise.resolve();
  }
  load(): Promise<StorageRecord[]> {
    return Promise.resolve([]);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe("Rank effect order", () => {
  it("hands generate lines to the log before it makes the bindings of their instances durable", async () => {
    const clock = new SimClock(0);
    const net = new SimNetwork(clock, new Prng(1), 1);
    const sink = new MemoryLogSink();
    const storage = new OrderCheckingStorage(sink);
    const cfg = { ...DEFAULTS, me: 0, n: 1 };
    const workload = new BackgroundWorkload(
      cfg,
      { genSeconds: 0.5, rate: 2000, graceSeconds: 5 },
      clock,
    );
    const rank = await Rank.create(
      cfg,
      { clock, transport: net.transport(0), storage, logSink: sink },
      { source: workload.source },
    );
    rank.start();
    workload.start(rank);
    let done = false;
    void workload.finished.then(() => (done = true));
    const tick = () => new Promise((r) => setImmediate(r));
    do await tick();
    while (!done && clock.fireNext());
    let stopped = false;
    void rank.stop().then(() => (stopped = true));
    do await tick();
    while (!stopped && clock.fireNext());
    expect(done).toBe(true);
    expect(storage.binds).toBeGreaterThan(0);
    expect(storage.violations).toBe(0);
  });
});
