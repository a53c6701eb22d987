// Read barriers started at random times of a simulated run, each checked for linearizability:
// its answer S must cover everything any rank (a crashed one's last life included) had committed
// when it started, and its rank must have committed S when it answers. A barrier whose rank
// crashes is rejected, which is fine; one that never answers on a live rank is a liveness failure.
import { RankStoppedError } from "../rank_waiters.js";
import type { SimCluster } from "./cluster.js";

export class ReadChecks {
  readonly problems: string[] = [];
  private pending = new Set<number>();
  private started = 0;
  answered = 0;

  /** Start barrier i on rank me now (skipped if the rank is down). */
  start(c: SimCluster, me: number): void {
    const rank = c.ranks[me];
    if (!rank || c.crashed.has(me)) return;
    const i = this.started++;
    const before = Math.max(...c.ranks.map((r) => r.commitIndex));
    const atMs = c.elapsedMs().toFixed(3);
    this.pending.add(i);
    rank.readBarrier().then(
      (seq) => {
        this.pending.delete(i);
        this.answered++;
        if (seq + 1 < before)
          this.problems.push(
            `read barrier on rank ${me} at ${atMs} ms answered ${seq}, below ${before - 1}, committed before it started`,
          );
        if (rank.commitIndex <= seq)
          this.problems.push(
            `read barrier on rank ${me} at ${atMs} ms answered ${seq} before its rank committed it`,
          );
      },
      (e: unknown) => {
        this.pending.delete(i);
        if (!(e instanceof RankStoppedError))
          this.problems.push(`read barrier on rank ${me}: ${String(e)}`);
      },
    );
  }

  get waiting(): number {
    return this.pending.size;
  }
}
