// A simulated network: every frame is delayed by a seeded random amount (so frames reorder), and
// may be dropped or duplicated. Links can be cut and healed. Frames are not copied: no rank code
// mutates a message after sending or on receipt (a copy per frame cost a fifth of the run time).
import type { WireMsg } from "../protocol/messages.js";
import type { Transport } from "../ports.js";
import type { SimClock } from "./clock.js";
import type { Prng } from "./prng.js";

export interface NetFaults {
  drop: number;
  dup: number;
  minDelayUs: number;
  maxDelayUs: number;
}

export const CALM: NetFaults = { drop: 0, dup: 0, minDelayUs: 50, maxDelayUs: 200 };

export class SimNetwork {
  private readonly handlers: ((msg: WireMsg) => void)[];
  /** cut[a][b]: frames from a to b are lost. */
  private readonly cut: boolean[][];
  private readonly down: boolean[];
  /** Deliveries to a paused rank wait here (as in a TCP buffer) until it resumes. */
  private readonly held: Array<WireMsg[] | null>;
  delivered = 0;
  /** Frames lost to a cut link or to the drop probability. */
  dropped = 0;
  /** Frames sent twice by the dup probability (each counts once, for its extra copy). */
  duplicated = 0;
  /** FNV-1a over every delivery (time, sender, receiver, type): two runs with the same seed match. */
  trace = 0x811c9dc5;

  constructor(
    private readonly clock: SimClock,
    private readonly rng: Prng,
    readonly n: number,
    public faults: NetFaults = CALM,
  ) {
    this.handlers = Array.from({ length: n }, () => () => {});
    this.cut = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
    this.down = new Array<boolean>(n).fill(false);
    this.held = new Array<WireMsg[] | null>(n).fill(null);
  }

  /** Hold (or release, in order) every delivery to rank. */
  setPaused(rank: number, paused: boolean): void {
    const queued = this.held[rank];
    this.held[rank] = paused ? (queued ?? []) : null;
    if (!paused && queued) for (const msg of queued) this.deliver(rank, msg);
  }

  /** Heal every cut link. */
  healAll(): void {
    for (const row of this.cut) row.fill(false);
  }

  transport(rank: number): Transport {
    return {
      send: (to, msg) => this.send(rank, to, msg),
      onMessage: (h) => {
        this.handlers[rank] = h;
      },
      close: () => Promise.resolve(),
    };
  }

  /** Cut (or heal) the link from a to b; symmetric unless oneWay. */
  setCut(a: number, b: number, isCut: boolean, oneWay = false): void {
    (this.cut[a] as boolean[])[b] = isCut;
    if (!oneWay) (this.cut[b] as boolean[])[a] = isCut;
  }

  /** A crashed or paused rank neither sends nor receives. */
  setDown(rank: number, isDown: boolean): void {
    this.down[rank] = isDown;
  }

  private send(from: number, to: number, msg: WireMsg): void {
    if (this.down[from] || this.down[to]) return;
    if (from === to) {
      this.clock.at(this.clock.nowUs(), () => this.deliver(to, msg));
      return;
    }
    const { drop, dup, minDelayUs, maxDelayUs } = this.faults;
    if ((this.cut[from] as boolean[])[to] || (drop > 0 && this.rng.chance(drop))) {
      this.dropped++;
      return;
    }
    const copies = dup > 0 && this.rng.chance(dup) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.int(minDelayUs, maxDelayUs);
      this.clock.at(this.clock.nowUs() + delay, () => this.deliver(to, msg));
    }
  }

  private deliver(to: number, msg: WireMsg): void {
    if (this.down[to]) return;
    const held = this.held[to];
    if (held) {
      held.push(msg);
      return;
    }
    this.delivered++;
    this.trace = mix(mix(mix(this.trace, this.clock.nowUs() % 0x7fffffff), msg.from * 64 + to), msg.t.charCodeAt(0) * 256 + msg.t.length);
    (this.handlers[to] as (msg: WireMsg) => void)(msg);
  }
}

/** One FNV-1a step over a 32-bit value. */
export function mix(h: number, v: number): number {
  let x = h;
  for (let i = 0; i < 4; i++) {
    x ^= (v >>> (i * 8)) & 0xff;
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x;
}
