// N real ranks (the same Rank code as over TCP) on one virtual clock and a simulated network.
// Only microtasks and simulated timers run, so one real setImmediate flushes everything runnable;
// then time jumps to the next timer. Same seed, same run.
import { DEFAULTS, Rank, type RankConfig } from "../rank.js";
import { SimClock } from "./clock.js";
import { MemoryLogSink } from "./memory_log.js";
import { CALM, SimNetwork, type NetFaults } from "./network.js";
import { Prng } from "./prng.js";
import { SimStorage } from "./storage.js";

export interface SimClusterOptions {
  n: number;
  seed: number;
  faults?: NetFaults;
  rank?: Partial<Omit<RankConfig, "me" | "n">>;
}

export class SimCluster {
  readonly clock = new SimClock();
  readonly rng: Prng;
  readonly net: SimNetwork;
  readonly logs: MemoryLogSink[] = [];
  readonly disks: SimStorage[] = [];
  readonly ranks: Rank[] = [];

  private constructor(readonly opts: SimClusterOptions) {
    this.rng = new Prng(opts.seed);
    this.net = new SimNetwork(this.clock, this.rng, opts.n, opts.faults ?? CALM);
  }

  static async start(opts: SimClusterOptions): Promise<SimCluster> {
    const c = new SimCluster(opts);
    for (let me = 0; me < opts.n; me++) {
      c.logs.push(new MemoryLogSink());
      c.disks.push(new SimStorage());
      c.ranks.push(await c.build(me));
    }
    c.ranks.forEach((r) => r.start());
    return c;
  }

  private build(me: number): Promise<Rank> {
    const cfg: RankConfig = { ...DEFAULTS, ...this.opts.rank, me, n: this.opts.n };
    const ports = { clock: this.clock, transport: this.net.transport(me), storage: this.disks[me] as SimStorage, logSink: this.logs[me] as MemoryLogSink };
    return Rank.create(cfg, ports);
  }

  /** kill -9: the rank stops at once; what it had not synced or flushed is lost. */
  async crash(me: number): Promise<void> {
    this.net.setDown(me, true);
    await this.drive(this.ranks[me]?.halt() ?? Promise.resolve());
    this.disks[me]?.crash();
    this.logs[me]?.crash();
  }

  /** Start the rank again from what its disk and log kept. */
  async restart(me: number): Promise<void> {
    const rank = await this.build(me);
    this.ranks[me] = rank;
    this.net.setDown(me, false);
    rank.start();
  }

  /** Run virtual time for a while (whatever else happens). */
  async runFor(ms: number): Promise<void> {
    const endUs = this.clock.nowUs() + ms * 1000;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.clock.nextAt() > endUs || !this.clock.fireNext()) break;
    }
  }

  /** Await p while driving virtual time (p may wait on simulated timers). */
  private async drive<T>(p: Promise<T>): Promise<T> {
    let done = false;
    const result = p.finally(() => (done = true));
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!done && !this.clock.fireNext()) break;
    }
    return result;
  }

  /** Run until every (current) rank finished, or for at most maxVirtualSeconds. True if all finished. */
  async runUntilFinished(maxVirtualSeconds: number): Promise<boolean> {
    let finished = 0;
    [...this.ranks].forEach((r) => void r.finished.then(() => finished++));
    const endUs = this.clock.nowUs() + maxVirtualSeconds * 1e6;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (finished === this.ranks.length) return true;
      if (this.clock.nextAt() > endUs || !this.clock.fireNext()) return false;
    }
  }

  /** Stop every rank, still driving virtual time: a loop may be parked on a simulated timer. */
  async stop(): Promise<void> {
    await this.drive(Promise.all(this.ranks.map((r) => r.stop())));
  }
}
