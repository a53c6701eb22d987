// N real ranks (the same Rank code as over TCP) on one virtual clock and a simulated network.
// Only microtasks and simulated timers run, so one real setImmediate flushes everything runnable;
// then time jumps to the next timer. Same seed, same run.
import { MemoryStorage } from "../io/memory_storage.js";
import { DEFAULTS, Rank, type RankConfig } from "../rank.js";
import { SimClock } from "./clock.js";
import { MemoryLogSink } from "./memory_log.js";
import { CALM, SimNetwork, type NetFaults } from "./network.js";
import { Prng } from "./prng.js";

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
  readonly ranks: Rank[] = [];

  private constructor(readonly opts: SimClusterOptions) {
    this.rng = new Prng(opts.seed);
    this.net = new SimNetwork(this.clock, this.rng, opts.n, opts.faults ?? CALM);
  }

  static async start(opts: SimClusterOptions): Promise<SimCluster> {
    const c = new SimCluster(opts);
    for (let me = 0; me < opts.n; me++) {
      const log = new MemoryLogSink();
      const cfg: RankConfig = { ...DEFAULTS, ...opts.rank, me, n: opts.n };
      const rank = await Rank.create(cfg, { clock: c.clock, transport: c.net.transport(me), storage: new MemoryStorage(), logSink: log });
      c.logs.push(log);
      c.ranks.push(rank);
    }
    c.ranks.forEach((r) => r.start());
    return c;
  }

  /** Run until every rank finished, or until virtual time untilUs. True if all finished. */
  async runUntilFinished(maxVirtualSeconds: number): Promise<boolean> {
    let finished = 0;
    this.ranks.forEach((r) => void r.finished.then(() => finished++));
    const endUs = this.clock.nowUs() + maxVirtualSeconds * 1e6;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (finished === this.ranks.length) return true;
      if (this.clock.nextAt() > endUs || !this.clock.fireNext()) return false;
    }
  }

  /** Stop every rank, still driving virtual time: a loop may be parked on a simulated timer. */
  async stop(): Promise<void> {
    let stopped = false;
    const stopping = Promise.all(this.ranks.map((r) => r.stop())).then(() => (stopped = true));
    while (!stopped) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!stopped && !this.clock.fireNext()) break;
    }
    await stopping;
  }
}
