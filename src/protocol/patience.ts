// Patience: how many times -o a follower waits for a silent leader, and a leader for progress.
// Rounds that fail one after another (a follower heard nothing for its timeout, or a leader gave
// up) mean the cluster cannot finish a round within the timeouts it has: with 64 KiB commands on
// 5 busy ranks a new leader's read gathered megabytes, took longer than -o, the followers bumped
// again and the cluster thrashed (350 rounds, a few hundred commits a minute). Each failure that
// follows another within a quiet period doubles the patience (up to MAX_PATIENCE); a failure after
// a quiet period starts again at 1, so a dead leader is still replaced after one -o.

/** The most a timeout is stretched: at -o 100 a follower waits at most 3.2 s for a silent leader. */
export const MAX_PATIENCE = 32;
/** A failure this many (stretched) timeouts after the last one is a fresh start. */
const QUIET_TIMEOUTS = 20;

export class Patience {
  factor = 1;
  private lastFailureUs = -Infinity;

  constructor(private readonly timeoutUs: number) {}

  /** A round this rank took part in failed (its own timeout or give-up): stretch, or start again. */
  failed(nowUs: number): void {
    const quiet = nowUs - this.lastFailureUs > QUIET_TIMEOUTS * this.timeoutUs * this.factor;
    this.factor = quiet ? 1 : Math.min(MAX_PATIENCE, this.factor * 2);
    this.lastFailureUs = nowUs;
  }
}
