// A simulated network: every frame is copied (as the wire would), delayed by a seeded random
// amount (so frames reorder), and may be dropped or duplicated. Links can be cut and healed.
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
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly rng: Prng,
    readonly n: number,
    public faults: NetFaults = CALM,
  ) {
    this.handlers = Array.from({ length: n }, () => () => {});
    this.cut = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
    this.down = new Array<boolean>(n).fill(false);
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
    if ((this.cut[from] as boolean[])[to] || this.rng.chance(this.faults.drop)) {
      this.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.dup) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const copy = structuredClone(msg);
      const delay = this.rng.int(this.faults.minDelayUs, this.faults.maxDelayUs);
      this.clock.at(this.clock.nowUs() + delay, () => this.deliver(to, copy));
    }
  }

  private deliver(to: number, msg: WireMsg): void {
    if (this.down[to]) return;
    this.delivered++;
    (this.handlers[to] as (msg: WireMsg) => void)(msg);
  }
}
