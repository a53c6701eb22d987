// The library API: ranks built in-process over TCP on loopback, proposals, commit iteration, stop.
import { afterEach, describe, expect, it } from "vitest";
import { freePorts } from "./cli/launch.js";
import { DEFAULTS, MemoryStorage, MemoryLogSink, Rank, SystemClock, TcpTransport, type Commit } from "./index.js";

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
      const cfg = { ...DEFAULTS, me, n: 3, timeoutMs: 50, maxPerRound: 10, genSeconds: 0, rate: 0, graceSeconds: 5, batch: 4, window: 4, channelCapacity: 256, fetchMax: 64 };
      ranks.push(await Rank.create(cfg, { clock: new SystemClock(), transport, storage: new MemoryStorage(), logSink: new MemoryLogSink() }, { emitCommits: true }));
    }
    ranks.forEach((r) => r.start());
    const streams = ranks.map((r) => take(r.commits(), 15));
    ranks.forEach((r) => expect(r.propose(5)).toBe(true));
    const seen = await Promise.all(streams);
    expect(seen[0]?.map((c) => c.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    const ids = new Set(seen[0]?.map((c) => c.id));
    for (const me of [0, 1, 2]) for (let k = 0; k < 5; k++) expect(ids.has(`${me}-${k}`)).toBe(true);
  });
});
