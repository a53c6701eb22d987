// The state-machine API on real ranks in simulated time: submit answers with apply's result once
// committed here, every rank applies the same commands in one order, oversized commands are
// refused, a restart restores the snapshot and replays the WAL, and a rank whose disk was wiped
// rejoins from a peer's snapshot.
import { afterEach, describe, expect, it } from "vitest";
import { CounterMachine, encodeCounterCommand } from "./examples/counter.js";
import { parseLogLines } from "./protocol/log_lines.js";
import { Rank } from "./rank.js";
import { DEFAULTS, type RankConfig } from "./rank_types.js";
import { CommandTooLargeError } from "./rank_waiters.js";
import { PausableClock } from "./sim/pausable_clock.js";
import { SimSnapshotStore } from "./sim/snapshot_store.js";
import { MemoryLogSink, Prng, SimClock, SimNetwork, SimStorage } from "./testing.js";

const add = (name: string, delta: number) => encodeCounterCommand({ op: "add", name, delta });
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** N ranks with CounterMachines on one virtual clock (a small SimCluster without a workload). */
class Cluster {
  readonly clock = new SimClock();
  readonly net: SimNetwork;
  readonly disks: SimStorage[] = [];
  readonly stores: SimSnapshotStore[] = [];
  readonly logs: MemoryLogSink[] = [];
  readonly machines: CounterMachine[] = [];
  readonly ranks: Rank[] = [];

  constructor(
    readonly n: number,
    readonly over: Partial<RankConfig> = {},
  ) {
    this.net = new SimNetwork(this.clock, new Prng(7), n, {
      drop: 0.02,
      dup: 0.02,
      minDelayUs: 100,
      maxDelayUs: 800,
    });
    for (let me = 0; me < n; me++) {
      this.disks.push(new SimStorage());
      this.stores.push(new SimSnapshotStore());
      this.logs.push(new MemoryLogSink());
    }
  }

  async start(me: number, rejoin = false): Promise<Rank> {
    const cfg: RankConfig = { ...DEFAULTS, timeoutMs: 50, ...this.over, me, n: this.n };
    const machine = new CounterMachine();
    const ports = {
      clock: new PausableClock(this.clock),
      transport: this.net.transport(me),
      storage: this.disks[me] as SimStorage,
      logSink: this.logs[me] as MemoryLogSink,
      snapshots: this.stores[me] as SimSnapshotStore,
    };
    const rank = await Rank.create(cfg, ports, { stateMachine: machine, rejoin });
    this.machines[me] = machine;
    this.ranks[me] = rank;
    rank.start();
    return rank;
  }

  /** kill -9: unsynced records and unfinished snapshot saves are lost. */
  async crash(me: number, wipe = false): Promise<void> {
    this.net.setDown(me, true);
    this.disks[me]?.crash();
    this.stores[me]?.crash();
    await this.until(this.ranks[me]?.halt() ?? Promise.resolve());
    if (wipe) {
      this.disks[me] = new SimStorage();
      this.stores[me] = new SimSnapshotStore();
    }
    this.net.setDown(me, false);
  }

  /** Run virtual time until p settles (at most maxMs). */
  async until<T>(p: Promise<T>, maxMs = 60_000): Promise<T> {
    let done = false;
    const result = p.finally(() => (done = true));
    const endUs = this.clock.nowUs() + maxMs * 1000;
    while (!done) {
      await tick();
      this.checkAlive();
      if (done) break;
      if (this.clock.nextAt() > endUs || !this.clock.fireNext()) throw new Error("stalled");
    }
    return result;
  }

  /** A rank that halted (a broken invariant, a record the WAL would refuse) fails the test. */
  private checkAlive(): void {
    for (const r of this.ranks)
      if (r.failedWith) throw new Error(`rank ${r.cfg.me} failed: ${r.failedWith.message}`);
  }

  async runFor(ms: number): Promise<void> {
    const endUs = this.clock.nowUs() + ms * 1000;
    for (;;) {
      await tick();
      this.checkAlive();
      if (this.clock.nextAt() > endUs || !this.clock.fireNext()) break;
    }
    this.clock.advanceTo(endUs);
  }

  async stop(): Promise<void> {
    await this.until(Promise.all(this.ranks.map((r) => r.stop())));
  }
}

let cluster: Cluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("submit and the state machine", () => {
  it("answers with apply's result, and every rank applies the same commands in one order", async () => {
    const c = (cluster = new Cluster(3));
    for (let me = 0; me < 3; me++) await c.start(me);
    const feeds = c.ranks.map((r) => r.commits());
    const second = c.ranks[0]?.commits(); // a second consumer on one rank takes nothing from the first
    const answers = await c.until(
      Promise.all(Array.from({ length: 30 }, (_, i) => c.ranks[i % 3]!.submit(add("x", 1)))),
    );
    // Each answer is the counter after its own add: 1..30, each once, in seq order.
    const bySeq = [...answers].sort((a, b) => a.seq - b.seq);
    expect(bySeq.map((a) => a.result)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    await c.runFor(500);
    const snapshots = c.machines.map((m) => Buffer.from(m.snapshot()).toString());
    expect(new Set(snapshots).size).toBe(1);
    expect(c.ranks.map((r) => r.state.appliedSeq)).toEqual(c.ranks.map((r) => r.commitIndex - 1));
    // Both consumers of rank 0 see the same commits (30 commands among no-op fillers, if any).
    const read = async (it: AsyncGenerator<{ seq: number; cmd: Uint8Array }> | undefined) => {
      const got: number[] = [];
      for await (const x of it!) {
        if (x.cmd.length > 0) got.push(x.seq);
        if (got.length === 30) break;
      }
      return got;
    };
    const [a, b] = await c.until(Promise.all([read(feeds[0]), read(second)]));
    expect(a).toEqual(b);
    expect(a).toEqual(bySeq.map((x) => x.seq));
  }, 30_000);

  it("refuses a command over the limit and proposes nothing", async () => {
    const c = (cluster = new Cluster(3));
    for (let me = 0; me < 3; me++) await c.start(me);
    const rank = c.ranks[0]!;
    await expect(rank.submit(new Uint8Array(1024 * 1024 + 1))).rejects.toBeInstanceOf(
      CommandTooLargeError,
    );
    await c.runFor(300);
    expect(rank.progress().generated).toBe(0);
    const big = new Uint8Array(1024 * 1024).fill(7);
    const { result } = await c.until(rank.submit(big));
    expect(result).toHaveProperty("error"); // not a counter command, but committed
    expect(rank.progress().generated).toBe(1);
  }, 30_000);

  it("a restart restores the last snapshot and replays the write-ahead log above it", async () => {
    const c = (cluster = new Cluster(3, { checkpointBytes: 2048 }));
    for (let me = 0; me < 3; me++) await c.start(me);
    for (let i = 0; i < 40; i++) await c.until(c.ranks[1]!.submit(add(`k${i % 4}`, i)));
    await c.runFor(2500); // the checkpoint loop runs every second
    expect((await c.stores[1]!.load())?.seq).toBeGreaterThan(0);
    const before = Buffer.from(c.machines[1]!.snapshot()).toString();
    await c.crash(1);
    const rank = await c.start(1);
    expect(Buffer.from(c.machines[1]!.snapshot()).toString()).toBe(before);
    expect(rank.state.appliedSeq).toBe(rank.commitIndex - 1);
    const { result } = await c.until(rank.submit(add("k0", 1000)));
    expect(result).toBe(0 + 4 + 8 + 12 + 16 + 20 + 24 + 28 + 32 + 36 + 1000);
  }, 30_000);

  it("a rank whose disk was wiped rejoins from a peer's snapshot and catches up", async () => {
    const c = (cluster = new Cluster(3, { checkpointBytes: 4096 }));
    for (let me = 0; me < 3; me++) await c.start(me);
    for (let i = 0; i < 30; i++) await c.until(c.ranks[0]!.submit(add("a", 1)));
    await c.crash(2, true);
    const long = "x".repeat(200); // commands of some size: the peers' logs pass checkpointBytes
    for (let i = 0; i < 300; i++) await c.until(c.ranks[i % 2]!.submit(add(`b${i % 8}${long}`, 1)));
    await c.runFor(2500); // snapshots taken; the log forgets what they cover
    const rank = await c.start(2, true);
    await c.runFor(3000);
    const { seq } = await c.until(rank.submit(add("a", 1)));
    await c.runFor(500);
    expect(rank.state.appliedSeq).toBeGreaterThanOrEqual(seq);
    const states = c.machines.map((m) => Buffer.from(m.snapshot()).toString());
    expect(states[2]).toBe(states[0]);
    expect(states[1]).toBe(states[0]);
    const log = c.logs[2]!.lines.join("");
    expect(log).toMatch(/^install snapshot up to seq \d+ at \d+$/m);
    expect(log).toMatch(/^rejoin after a lost disk at \d+$/m);
    // Fresh ids after the wipe: none of its new instances reuses a number of its first life.
    const ids = parseLogLines(log)
      .filter((l) => l.kind === "generate")
      .map((l) => l.id);
    expect(new Set(ids).size).toBe(ids.length);
  }, 60_000);
});
