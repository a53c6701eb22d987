// N real ranks (the same Rank code as over TCP) on one virtual clock, a simulated network and
// simulated disks. Only microtasks and simulated timers run, so one real setImmediate flushes
// everything runnable; then time jumps to the next timer. Same seed, same run.
import { DEFAULTS, Rank, type RankConfig } from "../rank.js";
import { SimClock } from "./clock.js";
import { MemoryLogSink } from "./memory_log.js";
import { CALM, SimNetwork, type NetFaults } from "./network.js";
import { PausableClock } from "./pausable_clock.js";
import { Prng } from "../faults/prng.js";
import { SimStorage } from "./storage.js";

export interface SimClusterOptions {
  n: number;
  seed: number;
  faults?: NetFaults;
  rank?: Partial<Omit<RankConfig, "me" | "n">>;
  /** Range of a simulated fsync, µs (default: instant). */
  syncUs?: [number, number];
}

/** One real event-loop turn: every microtask (all a rank's code runs in them) is drained. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

export class SimCluster {
  readonly clock = new SimClock();
  readonly rng: Prng;
  readonly net: SimNetwork;
  readonly logs: MemoryLogSink[] = [];
  readonly disks: SimStorage[] = [];
  readonly clocks: PausableClock[] = [];
  readonly ranks: Rank[] = [];
  readonly crashed = new Set<number>();
  /** Virtual time the cluster started at. */
  readonly startUs: number;

  private constructor(readonly opts: SimClusterOptions) {
    this.rng = new Prng(opts.seed);
    this.net = new SimNetwork(this.clock, this.rng, opts.n, opts.faults ?? CALM);
    this.startUs = this.clock.nowUs();
  }

  /** Virtual ms since the cluster started. */
  elapsedMs(): number {
    return (this.clock.nowUs() - this.startUs) / 1000;
  }

  static async start(opts: SimClusterOptions): Promise<SimCluster> {
    const c = new SimCluster(opts);
    const [lo, hi] = opts.syncUs ?? [0, 0];
    for (let me = 0; me < opts.n; me++) {
      const clock = new PausableClock(c.clock);
      c.logs.push(new MemoryLogSink());
      c.clocks.push(clock);
      // The disk runs on the rank's own clock: an fsync under way when it is paused completes only
      // when it resumes (as a SIGSTOPped process blocked in fdatasync).
      c.disks.push(new SimStorage(clock, () => (hi > 0 ? c.rng.int(lo, hi) : 0)));
      c.ranks.push(await c.build(me, {}));
    }
    c.ranks.forEach((r) => r.start());
    return c;
  }

  private build(me: number, over: Partial<RankConfig>): Promise<Rank> {
    const cfg: RankConfig = { ...DEFAULTS, ...this.opts.rank, ...over, me, n: this.opts.n };
    const ports = { clock: this.clocks[me] as PausableClock, transport: this.net.transport(me), storage: this.disks[me] as SimStorage, logSink: this.logs[me] as MemoryLogSink };
    return Rank.create(cfg, ports, { warn: (line) => this.warnings.push(line) });
  }

  /** Lines the ranks said on "stderr" (a safety violation noticed by a rank shows up here). */
  readonly warnings: string[] = [];

  /** SIGSTOP: the rank's timers and incoming messages wait until resume. */
  pause(me: number): void {
    this.clocks[me]?.pause();
    this.net.setPaused(me, true);
  }

  resume(me: number): void {
    this.net.setPaused(me, false);
    this.clocks[me]?.resume();
  }

  isPaused(me: number): boolean {
    return this.clocks[me]?.isPaused ?? false;
  }

  /** kill -9: the rank stops at once; what it had not synced or flushed is lost. */
  async crash(me: number): Promise<void> {
    this.net.setDown(me, true);
    this.disks[me]?.crash();
    this.logs[me]?.crash();
    this.resume(me);
    this.crashed.add(me);
    await this.drive(this.ranks[me]?.halt() ?? Promise.resolve());
    this.disks[me]?.crash();
    this.logs[me]?.crash();
  }

  /** Start the rank again from what its disk and log kept (config overrides, e.g. genSeconds). */
  async restart(me: number, over: Partial<RankConfig> = {}): Promise<void> {
    const rank = await this.build(me, over);
    this.ranks[me] = rank;
    this.crashed.delete(me);
    this.net.setDown(me, false);
    rank.start();
  }

  /** Run virtual time for a while (whatever else happens). */
  async runFor(ms: number): Promise<void> {
    const endUs = this.clock.nowUs() + ms * 1000;
    for (;;) {
      await tick();
      if (this.clock.nextAt() > endUs || !this.clock.fireNext()) break;
    }
    this.clock.advanceTo(endUs);
  }

  /** Run until every current rank finished, or for at most maxVirtualSeconds. True if all finished. */
  async runUntilFinished(maxVirtualSeconds: number): Promise<boolean> {
    let converged = 0;
    let gaveUp = 0;
    [...this.ranks].forEach((r) => void r.finished.then((ok) => (ok ? converged++ : gaveUp++)));
    const endUs = this.clock.nowUs() + maxVirtualSeconds * 1e6;
    for (;;) {
      await tick();
      if (gaveUp > 0) return false;
      if (converged === this.ranks.length) return true;
      if (this.clock.nextAt() > endUs || !this.clock.fireNext()) return false;
    }
  }

  /** Stop every rank, still driving virtual time: a loop may be parked on a simulated timer. */
  async stop(): Promise<void> {
    this.clocks.forEach((c, me) => c.isPaused && this.resume(me));
    await this.drive(Promise.all(this.ranks.map((r) => r.stop())));
  }

  /** Await p while driving virtual time (p may wait on simulated timers). */
  private async drive<T>(p: Promise<T>): Promise<T> {
    let done = false;
    const result = p.finally(() => (done = true));
    while (!done) {
      await tick();
      if (!done && !this.clock.fireNext()) {
        await tick();
        if (!done) throw new Error("simulation stalled: nothing left to run and the awaited step never finished");
      }
    }
    return result;
  }
}
