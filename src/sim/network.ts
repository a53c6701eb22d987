// A simulated network: every frame is delayed by a seeded random amount (so frames reorder), and
// may be dropped or duplicated; links can be cut and healed. What happens to a frame is decided by
// the same FaultModel a real rank's fault injection uses; this file adds only what a network of
// simulated processes needs on top (crashed ranks, paused ranks' buffers, the trace). Frames are
// not copied: no rank code mutates a message after sending or on receipt (a copy per frame cost a
// fifth of the run time).
import { FaultModel, type FaultSettings } from "../faults/fault_model.js";
import type { WireMsg } from "../protocol/messages.js";
import type { Random, Transport } from "../ports.js";
import type { SimClock } from "./clock.js";

/** The simulator's fault levels: the shared model's settings (µs). */
export type NetFaults = FaultSettings;

/** No faults, but a frame still takes 50-200 µs (a real network is never instant). */
export const CALM: NetFaults = { drop: 0, dup: 0, minDelayUs: 50, maxDelayUs: 200 };

/** Any message with a sender and a type tag can cross it (the ranks' WireMsg by default). */
export interface SimFrame {
  from: number;
  t: string;
}

export class SimNetwork<M extends SimFrame = WireMsg> {
  private readonly handlers: ((msg: M) => void)[];
  private readonly model: FaultModel;
  private readonly down: boolean[];
  /** Deliveries to a paused rank wait here (as in a TCP buffer) until it resumes. */
  private readonly held: Array<M[] | null>;
  delivered = 0;
  /** FNV-1a over every delivery (time, sender, receiver, type): two runs with the same seed match. */
  trace = 0x811c9dc5;

  constructor(
    private readonly clock: SimClock,
    rng: Random,
    readonly n: number,
    faults: NetFaults = CALM,
  ) {
    this.model = new FaultModel(faults, rng);
    this.handlers = Array.from({ length: n }, () => () => {});
    this.down = new Array<boolean>(n).fill(false);
    this.held = new Array<M[] | null>(n).fill(null);
  }

  /** The fault levels in force (replaceable: a run calms the network for its liveness phase). */
  get faults(): NetFaults {
    return this.model.settings;
  }

  set faults(faults: NetFaults) {
    this.model.settings = faults;
  }

  /** Frames lost to a cut link or to the drop probability. */
  get dropped(): number {
    return this.model.stats.dropped + this.model.stats.cut;
  }

  /** Frames sent twice by the dup probability (each counts once, for its extra copy). */
  get duplicated(): number {
    return this.model.stats.duplicated;
  }

  /** Hold (or release, in order) every delivery to rank. */
  setPaused(rank: number, paused: boolean): void {
    const queued = this.held[rank];
    this.held[rank] = paused ? (queued ?? []) : null;
    if (!paused && queued) for (const msg of queued) this.deliver(rank, msg);
  }

  /** Heal every cut link. */
  healAll(): void {
    this.model.healAll();
  }

  transport(rank: number): Transport<M> {
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
    this.model.setCut(a, b, isCut, oneWay);
  }

  /** A crashed or paused rank neither sends nor receives. */
  setDown(rank: number, isDown: boolean): void {
    this.down[rank] = isDown;
  }

  private send(from: number, to: number, msg: M): void {
    if (this.down[from] || this.down[to]) return;
    const verdict = this.model.decide(from, to);
    if (verdict.fate !== "sent") return;
    // Even a frame to itself goes through the clock: a rank never receives inside its own send.
    for (const delayUs of verdict.delaysUs)
      this.clock.at(this.clock.nowUs() + delayUs, () => this.deliver(to, msg));
  }

  private deliver(to: number, msg: M): void {
    if (this.down[to]) return;
    const held = this.held[to];
    if (held) {
      held.push(msg);
      return;
    }
    this.delivered++;
    this.trace = mix(
      mix(mix(this.trace, this.clock.nowUs() % 0x7fffffff), msg.from * 64 + to),
      msg.t.charCodeAt(0) * 256 + msg.t.length,
    );
    (this.handlers[to] as (msg: M) => void)(msg);
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
