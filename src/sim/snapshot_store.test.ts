import { describe, expect, it } from "vitest";
import { SnapshotTooLargeError } from "../ports.js";
import { SimClock } from "./clock.js";
import { SimSnapshotStore } from "./snapshot_store.js";

const bytes = (...xs: number[]) => Uint8Array.from(xs);
/** Let promise callbacks run (no virtual time passes). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A store whose saves take 1 µs per byte of virtual time. */
function slow(): { clock: SimClock; store: SimSnapshotStore } {
  const clock = new SimClock();
  return { clock, store: new SimSnapshotStore(clock, (n) => n) };
}

async function fireAll(clock: SimClock): Promise<void> {
  await settle();
  while (clock.fireNext()) await settle();
}

describe("SimSnapshotStore", () => {
  it("round trip, with no clock: durable when save resolves; load gives a copy", async () => {
    const store = new SimSnapshotStore();
    expect(await store.load()).toBeNull();
    const data = bytes(1, 2, 3);
    await store.save({ seq: 4, data });
    data[0] = 9; // the caller's bytes change after the save: the stored ones must not
    const back = await store.load();
    expect(back).toEqual({ seq: 4, data: bytes(1, 2, 3) });
    if (back) back.data[1] = 9;
    expect((await store.load())?.data).toEqual(bytes(1, 2, 3));
    store.crash();
    expect(await store.load()).toEqual({ seq: 4, data: bytes(1, 2, 3) });
    expect(store.saves).toBe(1);
  });

  it("a save takes virtual time and is durable only once it resolved", async () => {
    const { clock, store } = slow();
    const start = clock.nowUs();
    let done = false;
    const save = store.save({ seq: 1, data: new Uint8Array(500) }).then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    await fireAll(clock);
    await save;
    expect(clock.nowUs() - start).toBe(500);
    store.crash();
    expect((await store.load())?.seq).toBe(1);
  });

  it("a crash loses the save under way and keeps the last complete one", async () => {
    const { clock, store } = slow();
    const first = store.save({ seq: 1, data: bytes(1) });
    await fireAll(clock);
    await first;
    void store.save({ seq: 2, data: bytes(2, 2) }); // still under way at the crash
    await settle();
    store.crash();
    await fireAll(clock); // its write ends after the crash: too late
    expect(await store.load()).toEqual({ seq: 1, data: bytes(1) });
    expect(store.saves).toBe(1);
    // The restarted process saves as usual.
    const again = store.save({ seq: 3, data: bytes(3) });
    await fireAll(clock);
    await again;
    expect((await store.load())?.seq).toBe(3);
  });

  it("saves queued behind one under way are lost with it; load after a crash does not wait for them", async () => {
    const { clock, store } = slow();
    void store.save({ seq: 1, data: new Uint8Array(100) });
    void store.save({ seq: 2, data: new Uint8Array(10) });
    store.crash();
    expect(await store.load()).toBeNull(); // resolves without any virtual time passing
    await fireAll(clock);
    expect(await store.load()).toBeNull();
  });

  it("saves complete in call order, so a slow earlier one never overwrites a later one", async () => {
    const { clock, store } = slow();
    const big = store.save({ seq: 1, data: new Uint8Array(1000) });
    const small = store.save({ seq: 2, data: new Uint8Array(1) });
    const load = store.load();
    await fireAll(clock);
    await Promise.all([big, small]);
    expect((await load)?.seq).toBe(2);
    expect((await store.load())?.seq).toBe(2);
    expect(store.saves).toBe(2);
  });

  it("refuses a snapshot over its limit, and a bad seq, keeping the previous one", async () => {
    const store = new SimSnapshotStore(undefined, undefined, 4);
    await store.save({ seq: 1, data: bytes(1, 2, 3, 4) });
    await expect(store.save({ seq: 2, data: bytes(1, 2, 3, 4, 5) })).rejects.toThrow(
      SnapshotTooLargeError,
    );
    await expect(store.save({ seq: -1, data: bytes() })).rejects.toThrow(RangeError);
    expect((await store.load())?.seq).toBe(1);
    expect(new SimSnapshotStore().maxBytes).toBe(1024 * 1024 * 1024);
  });
});
