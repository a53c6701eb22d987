// The Jepsen-style test's faults: one at a time, every few seconds, never more than a minority
// of ranks affected: kill -9 a rank and restart it, SIGSTOP a rank and continue it, or cut a
// minority off through the partition file and heal it. (Frame drops and duplicates run all along,
// through the ranks' --drop and --dup.)
import type { KvCluster } from "../cli/kv_launch.js";
import { nowMs } from "./jepsen_workload.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Fault = "kill" | "pause" | "partition";

export class Nemesis {
  private readonly done: Record<Fault, number> = { kill: 0, pause: 0, partition: 0 };
  private random: () => number;
  private paused = new Set<number>();

  constructor(
    private readonly cluster: KvCluster,
    seed: number,
  ) {
    let s = (seed * 2_654_435_761) >>> 0 || 1;
    this.random = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 4_294_967_296;
    };
  }

  /** Play faults until untilMs (each lasts 1.5-3 s, with 1-2 s of calm between), kinds in turn. */
  async run(untilMs: number): Promise<void> {
    await sleep(1000);
    // In turn (from a seeded start), so even a short run has each kind of fault.
    const kinds: Fault[] = ["kill", "pause", "partition"];
    let turn = Math.floor(this.random() * kinds.length);
    while (nowMs() + 3000 < untilMs) {
      const kind = kinds[turn++ % kinds.length] as Fault;
      const forMs = 1500 + this.random() * 1500;
      await this.play(kind, forMs);
      this.done[kind]++;
      await sleep(1000 + this.random() * 1000);
    }
  }

  private async play(kind: Fault, forMs: number): Promise<void> {
    const n = this.cluster.ranks.length;
    const rank = Math.floor(this.random() * n);
    if (kind === "kill") {
      await this.cluster.kill(rank);
      await sleep(forMs);
      await this.cluster.startRank(rank);
    } else if (kind === "pause") {
      this.cluster.pause(rank);
      this.paused.add(rank);
      await sleep(forMs);
      this.cluster.resume(rank);
      this.paused.delete(rank);
    } else {
      const minority = Math.max(1, Math.floor((n - 1) / 2));
      const cut = Array.from({ length: minority }, (_, k) => (rank + k) % n);
      const rest = Array.from({ length: n }, (_, r) => r).filter((r) => !cut.includes(r));
      this.cluster.partition([cut, rest]);
      await sleep(forMs);
      this.cluster.partition([]);
    }
  }

  /** Everything back: links healed, paused ranks continued, dead ones restarted. */
  async healAll(): Promise<void> {
    this.cluster.partition([]);
    for (const r of this.paused) this.cluster.resume(r);
    this.paused.clear();
    for (let r = 0; r < this.cluster.ranks.length; r++)
      if (!this.cluster.isRunning(r)) await this.cluster.startRank(r);
    await sleep(1000);
  }

  summary(): string {
    return `${this.done.kill} kill -9, ${this.done.pause} SIGSTOP, ${this.done.partition} partitions`;
  }
}
