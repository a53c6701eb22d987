// The shell around BackgroundRun: every status interval it reads the rank's progress through the
// library API, steps the run, and passes its decisions on (the status note, a wake-up when
// generation starts). The same driver runs in the rank command and in the simulator.
import type { Clock } from "../ports.js";
import type { ProposalSource } from "../protocol/proposing.js";
import type { RankProgress } from "../rank_types.js";
import { BackgroundRun } from "./background.js";
import type { GenerationInfo } from "./schedule.js";
import type { SecondOfLatency } from "./latency.js";
import { CommandSubmitter, type SubmitStats, type SubmittingRank } from "./submitter.js";

/** -t, --rate and --grace of the rank command. */
export interface BackgroundOptions {
  /** Seconds of background generation (0: none). */
  genSeconds: number;
  /** Instances per second. */
  rate: number;
  /** Seconds after generation ends to wait for every rank to commit everything. */
  graceSeconds: number;
  /** Bytes of each command (0: the rank generates no-op instances itself; more: the workload
   * submits random commands of this size through Rank.submit). */
  payload?: number;
  /** Seed of the commands' random bytes (with payload). */
  seed?: number;
  /** Where a failed submission is told (once). */
  warn?: (line: string) => void;
}

export const BACKGROUND_DEFAULTS: BackgroundOptions = {
  genSeconds: 10,
  rate: 100,
  graceSeconds: 30,
};

/** The part of the library API the workload uses. */
export interface DrivenRank extends SubmittingRank {
  progress(): RankProgress;
  setNote(note: number): boolean;
  propose(count: number): boolean;
}

export class BackgroundWorkload {
  private readonly run: BackgroundRun;
  /** With a payload: what submits the commands (null: the rank takes no-ops from the schedule). */
  private readonly submitter: CommandSubmitter | null;
  private stopped = false;
  private cancelTimer: () => void = () => {};
  private resolveFinished!: (converged: boolean) => void;
  /** Resolves when the run is over: true if every rank committed everything, false if it gave up. */
  readonly finished: Promise<boolean> = new Promise((resolve) => (this.resolveFinished = resolve));

  constructor(
    rank: { me: number; n: number; timeoutMs: number },
    opts: BackgroundOptions,
    private readonly clock: Clock,
  ) {
    const { me, n } = rank;
    const { rate, genSeconds } = opts;
    this.run = new BackgroundRun({
      me,
      n,
      timeoutUs: rank.timeoutMs * 1000,
      rate,
      genSeconds,
      graceUs: opts.graceSeconds * 1e6,
      createdUs: clock.nowUs(),
    });
    const payload = opts.payload ?? 0;
    this.submitter =
      payload > 0
        ? new CommandSubmitter(
            this.run.schedule,
            payload,
            opts.seed ?? 1,
            clock,
            opts.warn ?? (() => {}),
          )
        : null;
  }

  /** Give this to Rank.create: the rank takes the scheduled instances from it when they are due
   * (undefined with a payload: the workload submits them itself). */
  get source(): ProposalSource | undefined {
    return this.submitter ? undefined : this.run.schedule;
  }

  /** With a payload, what the submissions came to (null without). */
  submitStats(): (SubmitStats & { latency: Record<string, SecondOfLatency> }) | null {
    const sub = this.submitter;
    return sub ? { ...sub.stats, latency: sub.latency.toJSON() } : null;
  }

  /** The generation schedule of this life (null until it starts). */
  info(): GenerationInfo | null {
    return this.run.info();
  }

  /** Drive the rank until the run is over or stop() is called. */
  start(rank: DrivenRank): void {
    const tick = () => {
      if (this.stopped) return;
      const queued = this.submitter?.queued ?? 0;
      const decision = this.run.step(this.clock.nowUs(), rank.progress(), queued);
      rank.setNote(decision.note);
      if (decision.startedNow) {
        if (this.submitter) this.submitter.start(rank);
        else rank.propose(0); // wake the rank's loop: instances are due from now
      }
      if (decision.finished) {
        this.stopped = true;
        this.submitter?.stop();
        this.resolveFinished(decision.finished.converged);
        return;
      }
      this.cancelTimer = this.clock.after(this.run.everyUs / 1000, tick);
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer();
    this.submitter?.stop();
  }
}
