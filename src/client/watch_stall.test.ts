// A watch whose rank goes quiet (no events, no progress) for watchStallMs leaves that rank and
// resumes elsewhere from `through`. A stub core stands in for the client's connections; time is
// vitest's fake clock.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeRequest, type ClientRequest, type ClientResponse } from "../kv/client_wire.js";
import type { KvCore, Stream } from "./client.js";
import { WatchStream, type WatchEvent } from "./watch.js";

type Watch = Extract<ClientRequest, { type: "watch" }>;

/** The parts of KvCore a watch uses: one connection at a time, numbered by `generation`. */
class StubCore {
  watchStallMs: number;
  generation = 1;
  open = true;
  readonly sent: ClientRequest[] = [];
  readonly reconnects: string[] = [];
  private readonly streams = new Set<Stream>();
  private nextId = 0x80000000;

  constructor(stallMs = 3000) {
    this.watchStallMs = stallMs;
  }

  addStream(s: Stream): void {
    this.streams.add(s);
    if (this.open) s.onOpen();
  }
  removeStream(s: Stream): void {
    this.streams.delete(s);
  }
  newStreamId(): number {
    return this.nextId++;
  }
  sendStream(frame: Uint8Array): boolean {
    if (!this.open) return false;
    const d = decodeRequest(frame.subarray(4));
    if (!d.ok) throw new Error(d.error);
    this.sent.push(d.message);
    return true;
  }
  reconnect(reason: string, generation?: number): void {
    if (generation !== undefined && generation !== this.generation) return;
    this.reconnects.push(reason);
    this.open = false;
  }
  /** A new connection comes up (another rank): every stream subscribes again. */
  connectAgain(): void {
    this.generation++;
    this.open = true;
    for (const s of this.streams) s.onOpen();
  }
  frame(res: ClientResponse): void {
    for (const s of this.streams) s.onFrame(res);
  }
  lastWatch(): Watch {
    const w = this.sent.filter((r): r is Watch => r.type === "watch").at(-1);
    if (!w) throw new Error("no watch sent");
    return w;
  }
}

function watch(core: StubCore): WatchStream {
  const c = core as unknown as KvCore;
  return new WatchStream(c, { prefix: "p/" }, 10, false, undefined, () => {});
}

const ev = (revision: number) => ({ revision, kind: "put" as const, key: `p/${revision}` });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("watch stall", () => {
  it("frames (progress included) keep a watch on its rank; silence moves it, resuming from `through`", async () => {
    const core = new StubCore(3000);
    const w = watch(core);
    const first = core.lastWatch();
    expect(first.fromRevision).toBe(10);
    core.frame({ type: "watching", id: first.id, fromRevision: 10 });
    core.frame({ type: "events", id: first.id, through: 12, events: [ev(10), ev(11)] });
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(1000);
      core.frame({ type: "events", id: first.id, through: 12, events: [] }); // progress
    }
    expect(core.reconnects).toEqual([]);
    core.frame({ type: "events", id: first.id, through: 13, events: [ev(12)] });
    await vi.advanceTimersByTimeAsync(2999);
    expect(core.reconnects).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(core.reconnects).toHaveLength(1);
    expect(core.reconnects[0]).toMatch(/heard nothing for 3000 ms/);
    // Frames of the old subscription that still arrive are ignored; the new one starts at 13.
    core.connectAgain();
    core.frame({ type: "events", id: first.id, through: 14, events: [ev(13)] });
    const second = core.lastWatch();
    expect(second.fromRevision).toBe(13);
    core.frame({ type: "events", id: second.id, through: 15, events: [ev(13), ev(14)] });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push(((await w.next()).value as WatchEvent).revision);
    expect(seen).toEqual([10, 11, 12, 13, 14]);
    await w.return();
  });

  it("a silent rank after a new connection is left again; an old timer never closes a newer connection", async () => {
    const core = new StubCore(3000);
    const w = watch(core);
    await vi.advanceTimersByTimeAsync(1500);
    core.reconnect("lost"); // the connection drops for another reason ...
    core.connectAgain(); // ... and the next one comes up at once
    await vi.advanceTimersByTimeAsync(2000); // the first subscription's deadline passes
    expect(core.reconnects).toEqual(["lost"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(core.reconnects).toHaveLength(2); // 3000 ms after the second subscription
    await w.return();
  });

  it("no stall while paused for a slow consumer, while not connected, or with watchStallMs 0", async () => {
    const core = new StubCore(3000);
    const w = watch(core);
    const id = core.lastWatch().id;
    const many = Array.from({ length: 10_000 }, (_, i) => ev(10 + i));
    core.frame({ type: "events", id, through: 10_010, events: many }); // the consumer lags
    expect(core.sent.at(-1)?.type).toBe("unwatch");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(core.reconnects).toEqual([]);
    await w.return();

    const off = new StubCore(0);
    const w2 = watch(off);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(off.reconnects).toEqual([]);
    await w2.return();

    const down = new StubCore(3000);
    down.open = false;
    const w3 = watch(down);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(down.reconnects).toEqual([]);
    await w3.return();
  });
});
