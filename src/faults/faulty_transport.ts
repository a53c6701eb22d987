// Fault injection as a decorator around any Transport: outgoing frames to peers are dropped,
// duplicated or delayed (delays reorder frames) with seeded randomness, and links can be cut by a
// partition (groups of ranks that can only talk among themselves). Frames a rank sends itself are
// never touched. Off by default: with no faults and no partition it adds nothing but a branch.
import type { WireMsg } from "../protocol/messages.js";
import type { Clock, Random, Transport } from "../ports.js";

export interface FaultSpec {
  drop: number;
  dup: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const NO_FAULTS: FaultSpec = { drop: 0, dup: 0, minDelayMs: 0, maxDelayMs: 0 };

export interface FaultStats {
  dropped: number;
  duplicated: number;
  delayed: number;
  cut: number;
}

export class FaultyTransport implements Transport {
  /** group[r]: the partition group of rank r; ranks in different groups cannot talk. Empty: healed. */
  private group: number[] = [];
  /** The groups last installed (for status reports: proof that a partition was applied). */
  groups: readonly (readonly number[])[] = [];
  readonly stats: FaultStats = { dropped: 0, duplicated: 0, delayed: 0, cut: 0 };

  constructor(
    private readonly inner: Transport,
    private readonly me: number,
    private readonly faults: FaultSpec,
    private readonly random: Random,
    private readonly clock: Clock,
  ) {}

  /** Install a partition: a list of groups of ranks ([] heals every link). */
  setPartition(groups: readonly (readonly number[])[]): void {
    const group: number[] = [];
    groups.forEach((g, i) => g.forEach((r) => (group[r] = i)));
    this.group = group;
    this.groups = groups.map((g) => [...g]);
  }

  send(to: number, msg: WireMsg): void {
    if (to === this.me) return this.inner.send(to, msg);
    if (!this.canTalk(this.me, to)) {
      this.stats.cut++;
      return;
    }
    const { drop, dup, minDelayMs, maxDelayMs } = this.faults;
    if (drop > 0 && this.random.next() < drop) {
      this.stats.dropped++;
      return;
    }
    const copies = dup > 0 && this.random.next() < dup ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      if (maxDelayMs <= 0) {
        this.inner.send(to, msg);
        continue;
      }
      const delay = minDelayMs + this.random.next() * (maxDelayMs - minDelayMs);
      this.stats.delayed++;
      this.clock.after(delay, () => this.inner.send(to, msg));
    }
  }

  onMessage(handler: (msg: WireMsg) => void): void {
    // A cut link is cut both ways even if the peer has not heard of the partition yet.
    this.inner.onMessage((msg) => {
      if (msg.from === this.me || this.canTalk(msg.from, this.me)) handler(msg);
      else this.stats.cut++;
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private canTalk(a: number, b: number): boolean {
    const ga = this.group[a];
    const gb = this.group[b];
    return ga === undefined || gb === undefined || ga === gb;
  }
}

/** Parse "--delay 1-30" (ms); a single number means a fixed delay. */
export function parseDelay(text: string): { minDelayMs: number; maxDelayMs: number } | null {
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text.trim());
  if (!m) return null;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  return max >= min ? { minDelayMs: min, maxDelayMs: max } : null;
}
