// The YASP background run as a workload, outside the protocol: generate at --rate for -t seconds
// once the cluster is up, then wait until every rank committed everything (or the grace period
// ends) and say the run is over. It sees the rank only as the library API shows it: its progress,
// the other ranks' status notes, and a note of its own. Pure: time comes in, decisions go out.
import type { RankProgress } from "../rank_types.js";
import { GenerationSchedule, type GenerationInfo } from "./schedule.js";

export interface BackgroundConfig {
  me: number;
  n: number;
  timeoutUs: number;
  /** Instances per second, for genSeconds, from the moment the cluster is up. */
  rate: number;
  genSeconds: number;
  /** Without a majority for graceUs after creation, or unconverged graceUs after generation ends, give up. */
  graceUs: number;
  createdUs: number;
}

/** Bits of the status note: this rank stopped generating; it sees every rank done and equal. */
export const NOTE_GEN_DONE = 1;
export const NOTE_CONVERGED = 2;

export interface BackgroundDecision {
  /** The note this rank's status should carry now. */
  note: number;
  /** Generation started in this step (the rank's loop should be woken to take the first instances). */
  startedNow: boolean;
  /** The run is over: converged, or given up. */
  finished: { converged: boolean } | null;
}

export class BackgroundRun {
  readonly schedule: GenerationSchedule;
  /** How often the workload looks at the cluster (the protocol's status interval). */
  readonly everyUs: number;
  private convergedSinceUs: number | null = null;
  private finished = false;

  constructor(private readonly cfg: BackgroundConfig) {
    this.schedule = new GenerationSchedule(cfg.rate, cfg.genSeconds, cfg.n, cfg.timeoutUs);
    this.everyUs = Math.max(1000, cfg.timeoutUs / 2);
  }

  info(): GenerationInfo | null {
    return this.schedule.info();
  }

  /** queued: own work the rank does not know of yet (commands due that the workload has not
   * handed to it, or whose submission is unsettled): generation is not done while there is any. */
  step(nowUs: number, rank: RankProgress, queued = 0): BackgroundDecision {
    const wasStarted = this.schedule.started;
    const ranksUp = 1 + rank.peers.filter((p, r) => p !== undefined && r !== this.cfg.me).length;
    this.schedule.maybeStart(nowUs, ranksUp, rank.generated);
    const finished = this.checkFinished(nowUs, rank, queued);
    const note =
      (nowUs >= this.schedule.endUs && queued === 0 ? NOTE_GEN_DONE : 0) |
      (this.convergedSinceUs !== null ? NOTE_CONVERGED : 0);
    return { note, startedNow: !wasStarted && this.schedule.started, finished };
  }

  /** The run is over when every rank has stopped generating and committed everything (or grace ran out). */
  private checkFinished(
    nowUs: number,
    rank: RankProgress,
    queued: number,
  ): { converged: boolean } | null {
    if (this.finished) return null;
    const { endUs, started } = this.schedule;
    if (!started && nowUs >= this.cfg.createdUs + this.cfg.graceUs) return this.finish(false);
    if (nowUs < endUs) return null;
    if (queued > 0 || !this.isConverged(rank)) {
      this.convergedSinceUs = null;
      return nowUs >= endUs + this.cfg.graceUs ? this.finish(false) : null;
    }
    this.convergedSinceUs ??= nowUs;
    // Linger until every peer said it sees the same (then everyone has heard enough), or for 20
    // status rounds at most: status messages may be lost, and a peer that left cannot repeat itself.
    const allDone = rank.peers.every(
      (p, r) => r === this.cfg.me || (p !== undefined && (p.note & NOTE_CONVERGED) !== 0),
    );
    const lingered = nowUs - this.convergedSinceUs;
    if ((allDone && lingered >= this.everyUs) || lingered >= 20 * this.everyUs)
      return this.finish(true);
    return null;
  }

  private isConverged(rank: RankProgress): boolean {
    if (rank.backlog > 0 || rank.hasGap) return false;
    return rank.peers.every(
      (p, r) =>
        r === this.cfg.me ||
        (p !== undefined &&
          (p.note & NOTE_GEN_DONE) !== 0 &&
          p.backlog === 0 &&
          p.commitIndex === rank.commitIndex),
    );
  }

  private finish(converged: boolean): { converged: boolean } {
    this.finished = true;
    return { converged };
  }
}
