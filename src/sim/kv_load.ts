// The simulator's client load: during the safety phase every rank is handed random KV commands
// (submit), at a rate drawn per seed, from a PRNG stream of its own (so the rest of a seed's plan
// is what it was before this load existed). It runs on the rank's own clock: a paused rank's
// client waits with it. Every submit that resolves is kept for the end-of-run rules; one rejected
// because its rank crashed (or whose seq a peer's snapshot covered) is only counted.
import { Prng } from "../faults/prng.js";
import type { KvResult } from "../kv/results.js";
import { OutcomeUnknownError, RankStoppedError } from "../rank_waiters.js";
import type { SimCluster } from "./cluster.js";
import { SimKvClient } from "./kv_commands.js";
import type { Answer } from "./state_checks.js";

export interface KvLoadStats {
  submitted: number;
  resolved: number;
  /** Rejected because the rank stopped (crashed) first: the command may still have committed. */
  stopped: number;
  /** Rejected because a peer's snapshot covered the command's seq. */
  unknown: number;
}

export class KvLoad {
  readonly stats: KvLoadStats = { submitted: 0, resolved: 0, stopped: 0, unknown: 0 };
  readonly answers: Answer[] = [];
  readonly problems: string[] = [];
  private pending = 0;

  /** rate: commands per second per rank; untilMs: virtual ms (since the cluster started) after
   * which no more are submitted. */
  constructor(
    private readonly c: SimCluster,
    private readonly seed: number,
    private readonly rate: number,
    private readonly untilMs: number,
  ) {}

  start(): void {
    if (this.rate <= 0) return;
    for (let me = 0; me < this.c.opts.n; me++) this.client(me);
  }

  /** Submits still unanswered. */
  get waiting(): number {
    return this.pending;
  }

  private client(me: number): void {
    const rng = new Prng((this.seed ^ 0xc0de) + 7919 * (me + 1));
    const clock = this.c.clocks[me];
    if (!clock) return;
    const kv = new SimKvClient(me);
    // Uniform gaps around 1/rate: a steady load with some bunching.
    const next = () => clock.after((rng.next() * 2000) / this.rate, tick);
    const tick = () => {
      if (this.c.elapsedMs() >= this.untilMs) return;
      // Drawn whether or not the rank is up: the commands stay the same whatever the faults do.
      const cmd = kv.next(rng, Math.floor(clock.nowUs() / 1000));
      if (!this.c.crashed.has(me)) this.submit(me, cmd, kv);
      next();
    };
    next();
  }

  private submit(me: number, cmd: Uint8Array, kv: SimKvClient): void {
    const rank = this.c.ranks[me];
    if (!rank) return;
    this.stats.submitted++;
    this.pending++;
    rank.submit(cmd).then(
      ({ seq, result }) => {
        this.pending--;
        this.stats.resolved++;
        this.answers.push({ rank: me, seq, result });
        kv.learn(result as KvResult);
      },
      (e: unknown) => {
        this.pending--;
        if (e instanceof RankStoppedError) this.stats.stopped++;
        else if (e instanceof OutcomeUnknownError) this.stats.unknown++;
        else this.problems.push(`submit on rank ${me}: ${String(e)}`);
      },
    );
  }
}
