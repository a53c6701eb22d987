import { describe, expect, it } from "vitest";
import type { ClientResponse, WireEvent } from "./client_wire.js";
import { encodeCommand } from "./commands.js";
import { KvMachine } from "./kv_machine.js";
import type { KvWrite } from "./service.js";
import { MAX_WATCHES_PER_CONNECTION, SLOW_BYTES, WatchHub, type WatchSink } from "./watch_hub.js";

const T0 = 1_700_000_000_000;
const val = (s: string) => new TextEncoder().encode(s);

type Frames = Extract<ClientResponse, { type: "events" | "watching" | "watch_ended" }>;

/** A machine with a hub listening to it, and a connection whose sink records every frame. */
function setup(history = { maxEvents: 10_000, maxBytes: 64 << 20 }) {
  const machine = new KvMachine({ history });
  const hub = new WatchHub(machine);
  machine.onNotice = (n) => {
    if (n.kind === "events") hub.onEvents(n.revision, n.events);
  };
  const frames: Frames[] = [];
  let unread = 0;
  let onDrain: (() => void) | null = null;
  const sink: WatchSink = {
    send: (r) => frames.push(r as Frames),
    buffered: () => unread,
    drained: () => new Promise<void>((resolve) => (onDrain = resolve)),
  };
  const apply = (c: KvWrite) =>
    machine.apply(machine.lastSeq + 1, encodeCommand({ ...c, atMs: T0 }));
  const put = (key: string, value = "v") => apply({ op: "put", key, value: val(value), ttlMs: 0 });
  const setUnread = (n: number) => {
    unread = n;
    if (n === 0) onDrain?.();
  };
  return { machine, hub, conn: hub.connection(sink), frames, apply, put, setUnread };
}

const eventsOf = (frames: Frames[], id: number): WireEvent[] =>
  frames.flatMap((f) => (f.type === "events" && f.id === id ? f.events : []));

/** Lets the catch-up loop (setImmediate between pages) run to its end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe("WatchHub", () => {
  it("reads history in pages, then follows live events: every revision once, in order", async () => {
    const { machine, conn, frames, put } = setup();
    for (let i = 0; i < 2500; i++) put(`a/${i % 10}`);
    put("b/other");
    expect(conn.start(7, { prefix: "a/" }, 1, false)).toEqual({ ok: true });
    for (let i = 0; i < 10; i++) put(`a/${i}`); // while the history is still being read
    await settle();
    for (let i = 0; i < 10; i++) put(`a/${i}`); // live
    const revisions = eventsOf(frames, 7).map((e) => e.revision);
    const expected = [...Array(machine.currentRevision).keys()].map((i) => i + 1);
    expect(revisions).toEqual(expected.filter((r) => r !== 2501));
    expect(frames[0]).toEqual({ type: "watching", id: 7, fromRevision: 1 });
    const last = frames.at(-1);
    expect(last?.type === "events" && last.through).toBe(machine.currentRevision + 1);
  });

  it("from now (0): only what is applied after the request", () => {
    const { conn, frames, put } = setup();
    put("k", "old");
    conn.start(1, { key: "k" }, 0, true);
    expect(frames[0]).toEqual({ type: "watching", id: 1, fromRevision: 2 });
    put("k", "new");
    put("k2", "other key");
    expect(eventsOf(frames, 1)).toEqual([
      { revision: 2, kind: "put", key: "k", value: val("new"), prevValue: val("old") },
    ]);
  });

  it("splits a revision larger than a frame, moving `through` past it only in its last frame", () => {
    const { machine, conn, frames, apply } = setup();
    apply({ op: "master", rank: 0, term: 1 });
    const epoch = machine.currentRevision;
    const open = apply({ op: "session_open", ttlMs: 5000 });
    if (open.kind !== "session") throw new Error("no session");
    const big = new Uint8Array(700_000).fill(1);
    for (const k of ["e/1", "e/2", "e/3"])
      apply({ op: "put", key: k, value: big, ttlMs: 0, session: open.session });
    conn.start(2, { prefix: "e/" }, 0, true);
    apply({ op: "session_expire", sessions: [open.session], epoch });
    const r = machine.currentRevision;
    const parts = frames.filter((f) => f.type === "events");
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.slice(0, -1).every((f) => f.type === "events" && f.through === r)).toBe(true);
    expect(parts.at(-1)).toMatchObject({ through: r + 1 });
    const deleted = eventsOf(frames, 2);
    expect(deleted.map((e) => [e.revision, e.kind, e.key, e.prevValue?.length])).toEqual([
      [r, "delete", "e/1", 700_000],
      [r, "delete", "e/2", 700_000],
      [r, "delete", "e/3", 700_000],
    ]);
  });

  it("ends a watch from a revision no longer kept with compacted and the oldest kept", () => {
    const { machine, conn, frames, put } = setup({ maxEvents: 10, maxBytes: 1 << 20 });
    for (let i = 0; i < 30; i++) put("k");
    conn.start(3, { key: "k" }, 1, false);
    expect(frames.at(-1)).toEqual({
      type: "watch_ended",
      id: 3,
      code: "compacted",
      revision: machine.oldestRevision,
    });
    expect(machine.oldestRevision).toBeGreaterThan(1);
  });

  it("ends a live watch whose client does not read with slow, telling where to resume", async () => {
    const { conn, frames, put, setUnread } = setup();
    put("k");
    conn.start(4, { key: "k" }, 1, false);
    await settle();
    setUnread(SLOW_BYTES + 1);
    put("k");
    put("k");
    expect(frames.at(-1)).toEqual({ type: "watch_ended", id: 4, code: "slow", revision: 2 });
    expect(eventsOf(frames, 4).map((e) => e.revision)).toEqual([1]);
  });

  it("pauses reading history while the client's buffer is full", async () => {
    const { conn, frames, put, setUnread } = setup();
    for (let i = 0; i < 3000; i++) put("k");
    setUnread(2 << 20);
    conn.start(5, { key: "k" }, 1, false);
    await settle();
    expect(eventsOf(frames, 5)).toHaveLength(0);
    setUnread(0);
    await settle();
    expect(eventsOf(frames, 5)).toHaveLength(3000);
  });

  it("unwatch and a closed connection stop frames; ids and the per-connection bound are checked", () => {
    const { conn, frames, put, hub } = setup();
    conn.start(6, { prefix: "" }, 0, false);
    expect(conn.start(6, { prefix: "" }, 0, false)).toMatchObject({
      ok: false,
      code: "bad_request",
    });
    expect(conn.unwatch(6)).toBe(true);
    put("x");
    expect(eventsOf(frames, 6)).toHaveLength(0);
    for (let i = 0; i < MAX_WATCHES_PER_CONNECTION; i++)
      conn.start(100 + i, { key: "x" }, 0, false);
    expect(conn.start(99, { key: "x" }, 0, false)).toMatchObject({ ok: false, code: "busy" });
    conn.close();
    put("x");
    expect(frames.filter((f) => f.type === "events" && f.events.length > 0)).toHaveLength(0);
    const other = hub.connection({ send: () => {}, buffered: () => 0, drained: async () => {} });
    expect(other.start(1, { key: "x" }, 0, false)).toEqual({ ok: true }); // the bound is per connection
  });
});
