// N real ranks (the same Rank code as over TCP) on one virtual clock, a simulated network and
// simulated disks. Only microtasks and simulated timers run, so one real setImmediate flushes
// everything runnable; then time jumps to the next timer. Same seed, same run.
import { InvariantError } from "../protocol/assert.js";
import { Rank } from "../rank.js";
import { DEFAULTS, type RankConfig } from "../rank_types.js";
import { BuggyStorage, buggyMachine, buggyProcessors, type BugName } from "./bugs.js";
import { lostDiskLine } from "./check.js";
import {
  BACKGROUND_DEFAULTS,
  BackgroundWorkload,
  type BackgroundOptions,
} from "../workload/driver.js";
import { SimClock } from "./clock.js";
import { MemoryLogSink } from "./memory_log.js";
import { CALM, SimNetwork, type NetFaults } from "./network.js";
import { PausableClock } from "./pausable_clock.js";
import { Prng } from "../faults/prng.js";
import { SimSnapshotStore } from "./snapshot_store.js";
import { AppliedLog, CheckedKv } from "./state_checks.js";
import { SimStorage } from "./storage.js";

export interface SimClusterOptions {
  n: number;
  seed: number;
  faults?: NetFaults;
  rank?: Partial<Omit<RankConfig, "me" | "n">>;
  /** The background workload every rank runs (rate, -t, grace). */
  workload?: Partial<BackgroundOptions>;
  /** Known protocol bugs to switch on in every rank (to prove the simulator finds them). */
  bugs?: readonly BugName[];
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
  /** Each rank's snapshot file (replaced, like its disk, when the disk is lost). */
  readonly snaps: SimSnapshotStore[] = [];
  /** Each rank's state machine in its current life. */
  readonly machines: CheckedKv[] = [];
  /** Every command any rank applied, with its result (see state_checks.ts). */
  readonly applied = new AppliedLog();
  /** Ranks that lost a disk: every start after that rejoins (the rank itself tells whether it
   * still has to: it voted since, or not). */
  private readonly wiped = new Set<number>();
  /** Disks lost so far, and what the lost ones had done (the current ones count the rest). */
  lostDisks = 0;
  private lost = { checkpoints: 0, saves: 0 };
  /** Latencies of snapshot saves: a stream of its own, so the network's draws stay as they were. */
  private readonly snapRng: Prng;
  readonly clocks: PausableClock[] = [];
  readonly ranks: Rank[] = [];
  readonly workloads: BackgroundWorkload[] = [];
  /** Cluster-wide invariants, checked after every simulated step. */
  private readonly invariants: ClusterInvariants;
  readonly crashed = new Set<number>();
  /** Virtual time the cluster started at. */
  readonly startUs: number;

  private constructor(readonly opts: SimClusterOptions) {
    this.rng = new Prng(opts.seed);
    this.snapRng = new Prng(opts.seed ^ 0x5a5a);
    this.net = new SimNetwork(this.clock, this.rng, opts.n, opts.faults ?? CALM);
    this.startUs = this.clock.nowUs();
    this.invariants = new ClusterInvariants(opts.n);
  }

  /** Virtual ms since the cluster started. */
  elapsedMs(): number {
    return (this.clock.nowUs() - this.startUs) / 1000;
  }

  static async start(opts: SimClusterOptions): Promise<SimCluster> {
    const c = new SimCluster(opts);
    for (let me = 0; me < opts.n; me++) {
      c.logs.push(new MemoryLogSink());
      c.clocks.push(new PausableClock(c.clock));
      c.newDisks(me);
      await c.build(me, {});
    }
    c.ranks.forEach((r, me) => c.startRank(me, r));
    return c;
  }

  /** Empty disks for rank me: its WAL and its snapshot file. They run on the rank's own clock: an
   * fsync under way when it is paused completes only when it resumes (as a SIGSTOPped process
   * blocked in fdatasync). */
  private newDisks(me: number): void {
    const [lo, hi] = this.opts.syncUs ?? [0, 0];
    const clock = this.clocks[me] as PausableClock;
    this.disks[me] = new SimStorage(clock, () => (hi > 0 ? this.rng.int(lo, hi) : 0));
    this.snaps[me] = new SimSnapshotStore(clock, () => (hi > 0 ? this.snapRng.int(lo, hi) : 0));
  }

  /** WAL checkpoints (each takes a state-machine snapshot) and snapshot saves (those and
   * installed ones), over every disk the ranks had. */
  get snapshotCounts(): { checkpoints: number; saves: number } {
    let { checkpoints, saves } = this.lost;
    this.disks.forEach((d) => (checkpoints += d.checkpoints));
    this.snaps.forEach((s) => (saves += s.saves));
    return { checkpoints, saves };
  }

  private async build(me: number, over: Partial<BackgroundOptions>, rejoin = false): Promise<Rank> {
    const cfg: RankConfig = { ...DEFAULTS, ...this.opts.rank, me, n: this.opts.n };
    const clock = this.clocks[me] as PausableClock;
    const workload = new BackgroundWorkload(
      cfg,
      { ...BACKGROUND_DEFAULTS, ...this.opts.workload, ...over },
      clock,
    );
    const bugs = this.opts.bugs ?? [];
    const disk = this.disks[me] as SimStorage;
    const storage = bugs.length > 0 ? new BuggyStorage(disk, bugs) : disk;
    const ports = {
      clock,
      transport: this.net.transport(me),
      storage,
      logSink: this.logs[me] as MemoryLogSink,
      snapshots: this.snaps[me] as SimSnapshotStore,
    };
    const checked = new CheckedKv(me, this.applied);
    const machine = buggyMachine(bugs, checked);
    const rank = await Rank.create(cfg, ports, {
      warn: (line) => this.warnings.push(line),
      source: workload.source,
      processors: buggyProcessors(bugs),
      stateMachine: machine.machine,
      rejoin,
    });
    machine.created();
    this.machines[me] = checked;
    this.ranks[me] = rank;
    this.workloads[me] = workload;
    return rank;
  }

  private startRank(me: number, rank: Rank): void {
    this.invariants.newLife(me);
    rank.start();
    this.workloads[me]?.start(rank);
  }

  /** Throws an InvariantError naming what broke: a rank that stopped on one of its own
   * invariants, or a cluster-wide one (two ranks committing different values at one seq, a commit
   * index going back within a life). Called after every simulated step. */
  checkInvariants(): void {
    this.ranks.forEach((rank, me) => {
      if (this.crashed.has(me)) return;
      const failure = rank.failedWith;
      if (failure) throw new InvariantError(`rank ${me} stopped: ${failure.message}`);
      this.invariants.check(me, rank);
    });
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
    this.workloads[me]?.stop();
    this.net.setDown(me, true);
    const down = () => {
      this.disks[me]?.crash();
      this.snaps[me]?.crash();
      this.logs[me]?.crash();
    };
    down();
    this.resume(me);
    this.crashed.add(me);
    await this.drive(this.ranks[me]?.halt() ?? Promise.resolve());
    down(); // what the halting rank wrote did not happen either
  }

  /** The rank's disk dies: the rank crashes (if it was up), its WAL and snapshot file are replaced
   * by empty ones, and it rejoins from then on. Its text log stays (it is the audit), with a line
   * saying the disk was lost there (check.ts starts the rank's log over after it). */
  async loseDisk(me: number): Promise<void> {
    if (!this.crashed.has(me)) await this.crash(me);
    this.lost.checkpoints += this.disks[me]?.checkpoints ?? 0;
    this.lost.saves += this.snaps[me]?.saves ?? 0;
    this.newDisks(me);
    this.logs[me]?.write(lostDiskLine(this.clock.nowUs()));
    this.logs[me]?.flush();
    this.wiped.add(me);
    this.lostDisks++;
  }

  /** Start the rank again from what its disk kept (workload overrides, e.g. genSeconds); after a
   * lost disk, as a rank that rejoins. */
  async restart(me: number, over: Partial<BackgroundOptions> = {}): Promise<void> {
    const rank = await this.build(me, over, this.wiped.has(me));
    this.crashed.delete(me);
    this.net.setDown(me, false);
    this.startRank(me, rank);
  }

  /** Run virtual time for a while (whatever else happens). */
  async runFor(ms: number): Promise<void> {
    const endUs = this.clock.nowUs() + ms * 1000;
    for (;;) {
      await tick();
      this.checkInvariants();
      if (this.clock.nextAt() > endUs || !this.clock.fireNext()) break;
    }
    this.clock.advanceTo(endUs);
  }

  /** Run until every current rank's workload finished, or for at most maxVirtualSeconds. True if all converged. */
  async runUntilFinished(maxVirtualSeconds: number): Promise<boolean> {
    let converged = 0;
    let gaveUp = 0;
    [...this.workloads].forEach((w) => void w.finished.then((ok) => (ok ? converged++ : gaveUp++)));
    const endUs = this.clock.nowUs() + maxVirtualSeconds * 1e6;
    for (;;) {
      await tick();
      this.checkInvariants();
      if (gaveUp > 0) return false;
      if (converged === this.ranks.length) return true;
      if (this.clock.nextAt() > endUs || !this.clock.fireNext()) return false;
    }
  }

  /** Stop every rank, still driving virtual time: a loop may be parked on a simulated timer. */
  async stop(): Promise<void> {
    this.workloads.forEach((w) => w.stop());
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
        if (!done)
          throw new Error(
            "simulation stalled: nothing left to run and the awaited step never finished",
          );
      }
    }
    return result;
  }
}

/** What every rank must agree on, checked incrementally: one value per seq across all ranks, and
 * within one life of a rank a commit index that only grows. */
class ClusterInvariants {
  /** The value first seen committed at each seq, by any rank. */
  private readonly chosen: string[] = [];
  private readonly seen: number[];

  constructor(n: number) {
    this.seen = new Array<number>(n).fill(0);
  }

  /** A (re)started rank: its commit index may restart lower (a crash loses unflushed lines). */
  newLife(me: number): void {
    this.seen[me] = 0;
  }

  check(me: number, rank: Rank): void {
    const from = this.seen[me] ?? 0;
    const commitIndex = rank.commitIndex;
    if (commitIndex < from)
      throw new InvariantError(`rank ${me}: commit index went back from ${from} to ${commitIndex}`);
    if (commitIndex === from) return;
    rank.committedIds(from).forEach((id, i) => {
      const seq = from + i;
      const first = this.chosen[seq];
      if (first === undefined) this.chosen[seq] = id;
      else if (first !== id)
        throw new InvariantError(
          `seq ${seq}: rank ${me} committed ${id}, another rank committed ${first}`,
        );
    });
    this.seen[me] = commitIndex;
  }
}
