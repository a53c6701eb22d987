// Watch progress on the server: one read barrier per tick for all of a rank's live watches, then
// an empty events frame to each, saying how far this rank is. Driven by a hand-cranked timer
// and barrier (no wall-clock waits).
import { describe, expect, it } from "vitest";
import type { ClientResponse } from "./client_wire.js";
import { encodeCommand } from "./commands.js";
import { KvMachine } from "./kv_machine.js";
import { WatchHub, type ProgressDriver, type WatchSink } from "./watch_hub.js";

type Events = Extract<ClientResponse, { type: "events" }>;

/** A hub over a machine and a progress driver whose timer and barrier the test releases. */
function setup() {
  const machine = new KvMachine({ history: { maxEvents: 10_000, maxBytes: 64 << 20 } });
  const hub = new WatchHub(machine);
  machine.onNotice = (n) => {
    if (n.kind === "events") hub.onEvents(n.revision, n.events);
  };
  const timers: (() => void)[] = [];
  const barriers: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const driver: ProgressDriver = {
    after: (_ms, fn) => {
      timers.push(fn);
      return () => {
        const i = timers.indexOf(fn);
        if (i >= 0) timers.splice(i, 1);
      };
    },
    barrier: () => new Promise<void>((resolve, reject) => barriers.push({ resolve, reject })),
  };
  const put = (key: string) => {
    const cmd = { op: "put", key, value: Uint8Array.of(1), ttlMs: 0, atMs: 1 } as const;
    machine.apply(machine.lastSeq + 1, encodeCommand(cmd));
  };
  /** Fires the pending timer: one turn of the progress loop. */
  const tick = async () => {
    const fn = timers.shift();
    if (!fn) throw new Error("no progress timer pending");
    fn();
    await flush();
  };
  return { machine, hub, timers, barriers, driver, put, tick };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A connection recording its frames, with a settable unread byte count. */
function recorder(hub: WatchHub) {
  const frames: ClientResponse[] = [];
  const state = { unread: 0 };
  const sink: WatchSink = {
    send: (r) => frames.push(r),
    buffered: () => state.unread,
    drained: () => Promise.resolve(),
  };
  const conn = hub.connection(sink);
  const progress = (id: number) =>
    frames.filter((f): f is Events => f.type === "events" && f.id === id && f.events.length === 0);
  return { conn, frames, state, progress };
}

describe("watch progress", () => {
  it("one barrier per tick serves every live watch: each then gets an empty frame with `through`", async () => {
    const { machine, hub, barriers, driver, put, tick } = setup();
    hub.startProgress(driver);
    put("a/1");
    const r = recorder(hub);
    r.conn.start(1, { prefix: "a/" }, 0, false);
    r.conn.start(2, { key: "b" }, 0, false);
    const other = recorder(hub);
    other.conn.start(7, { key: "c" }, 1, false); // history read (nothing matches), then live
    await tick();
    expect(barriers).toHaveLength(1);
    const before = r.frames.length + other.frames.length;
    put("a/2"); // while the barrier runs
    put("z");
    expect(r.frames.length + other.frames.length).toBe(before + 1); // a/2 to watch 1 only
    barriers.shift()?.resolve();
    await flush();
    const through = machine.currentRevision + 1;
    expect(r.progress(1).at(-1)).toEqual({ type: "events", id: 1, through, events: [] });
    expect(r.progress(2).at(-1)).toEqual({ type: "events", id: 2, through, events: [] });
    expect(other.progress(7).at(-1)).toEqual({ type: "events", id: 7, through, events: [] });
    // The loop goes on: the next tick runs one more barrier.
    await tick();
    expect(barriers).toHaveLength(1);
  });

  it("sends nothing while the barrier has not answered, or when it fails", async () => {
    const { hub, barriers, driver, put, tick, timers } = setup();
    hub.startProgress(driver);
    const r = recorder(hub);
    r.conn.start(1, { key: "k" }, 0, false);
    const at = r.frames.length;
    await tick();
    expect(timers).toHaveLength(0); // no next tick while a barrier is out: never two at once
    put("other");
    expect(r.frames.length).toBe(at);
    barriers.shift()?.reject(new Error("stopped"));
    await flush();
    expect(r.frames.length).toBe(at);
    expect(timers).toHaveLength(1); // it tries again next time
    await tick();
    barriers.shift()?.resolve();
    await flush();
    expect(r.progress(1)).toHaveLength(2); // the caught-up frame at start, then this one
  });

  it("runs no barrier without live watches, and skips connections with much unread", async () => {
    const { hub, barriers, driver, tick } = setup();
    hub.startProgress(driver);
    await tick();
    expect(barriers).toHaveLength(0);
    const backed = recorder(hub);
    const fine = recorder(hub);
    backed.conn.start(1, { key: "k" }, 0, false);
    fine.conn.start(1, { key: "k" }, 0, false);
    backed.state.unread = 2 << 20;
    await tick();
    barriers.shift()?.resolve();
    await flush();
    expect(backed.progress(1)).toHaveLength(1); // only the caught-up frame of its start
    expect(fine.progress(1)).toHaveLength(2);
  });

  it("ended watches get no progress; stop ends the loop", async () => {
    const { hub, barriers, driver, tick, timers } = setup();
    hub.startProgress(driver);
    const r = recorder(hub);
    r.conn.start(1, { key: "k" }, 0, false);
    r.conn.start(2, { key: "k" }, 0, false);
    r.conn.unwatch(1);
    expect(hub.count).toBe(1);
    await tick();
    barriers.shift()?.resolve();
    await flush();
    expect(r.progress(1)).toHaveLength(1);
    expect(r.progress(2)).toHaveLength(2);
    hub.stop();
    expect(timers).toHaveLength(0);
    expect(hub.count).toBe(0);
  });
});
