// The one fault model of yasp. A real rank's fault injection (FaultyTransport) and the simulator's
// network both ask it what happens to a frame from -> to, so a fault rate means the same thing in
// both and the simulator exercises the very decisions a rank under --drop/--dup/--delay makes.
// It has no clock and does no I/O: it draws from the Random it is given, counts, and answers; the
// caller delivers (at once, after a delay, twice, or not at all). Everything is in µs; a config
// given in ms (the rank's --delay flag) is converted where it enters, with msToUs.
import type { Random } from "../ports.js";

/** Fault levels: per-frame probabilities, and the range a frame's delay is drawn from, in µs. */
export interface FaultSettings {
  /** Probability that a frame is lost. */
  drop: number;
  /** Probability that a frame that is not lost is delivered twice. */
  dup: number;
  /** Each copy is delayed by a whole number of µs in [minDelayUs, maxDelayUs]; maxDelayUs 0: no delay. */
  minDelayUs: number;
  maxDelayUs: number;
}

export const NO_FAULTS: FaultSettings = { drop: 0, dup: 0, minDelayUs: 0, maxDelayUs: 0 };

/** What the model did to frames (a rank's summary line and status file report these). */
export interface FaultStats {
  /** Frames lost to the drop probability. */
  dropped: number;
  /** Frames delivered twice (each counts once, for its extra copy). */
  duplicated: number;
  /** Copies held back by a delay above 0. */
  delayed: number;
  /** Frames refused because their link was cut, outgoing (decide) or incoming (admits). */
  cut: number;
}

/** The fate of one frame. */
export type Verdict =
  | { readonly fate: "cut" }
  | { readonly fate: "dropped" }
  /** One delay per copy to deliver (two when duplicated); 0 means deliver now. */
  | { readonly fate: "sent"; readonly delaysUs: readonly number[] };

// Shared answers for the common cases, so the simulator's hot path allocates nothing for them.
const CUT: Verdict = Object.freeze({ fate: "cut" });
const DROPPED: Verdict = Object.freeze({ fate: "dropped" });
const NOW: Verdict = Object.freeze({ fate: "sent", delaysUs: Object.freeze([0]) });
const TWICE_NOW: Verdict = Object.freeze({ fate: "sent", delaysUs: Object.freeze([0, 0]) });

/** Links are keyed from * LINK_SPAN + to; ranks must be below it. */
const LINK_SPAN = 0x10000;

export class FaultModel {
  readonly stats: FaultStats = { dropped: 0, duplicated: 0, delayed: 0, cut: 0 };
  /** Directed links that are cut (a partition cuts both directions; the simulator can cut one). */
  private readonly cuts = new Set<number>();

  /** settings may be replaced at any time (the simulator calms the network for its liveness phase). */
  constructor(
    public settings: FaultSettings,
    private readonly random: Random,
  ) {}

  /**
   * Decide the fate of one frame from -> to, and count it. A frame a rank sends itself never
   * meets a fault (it does not cross the network). The draws, in this order and only for the
   * faults that are on: drop, duplicate, one delay per copy. The order is fixed so that one seed
   * always gives one sequence of decisions.
   */
  decide(from: number, to: number): Verdict {
    if (from === to) return NOW;
    if (this.isCut(from, to)) {
      this.stats.cut++;
      return CUT;
    }
    const { drop, dup, maxDelayUs } = this.settings;
    if (drop > 0 && this.random.next() < drop) {
      this.stats.dropped++;
      return DROPPED;
    }
    const twice = dup > 0 && this.random.next() < dup;
    if (twice) this.stats.duplicated++;
    if (maxDelayUs <= 0) return twice ? TWICE_NOW : NOW;
    const delaysUs = twice ? [this.drawDelay(), this.drawDelay()] : [this.drawDelay()];
    return { fate: "sent", delaysUs };
  }

  /**
   * May a frame that arrived from -> to be handed on? A real rank checks this too, because its
   * peer may not have seen the partition yet: a cut link is cut both ways. Counts a refusal as cut.
   */
  admits(from: number, to: number): boolean {
    if (from === to || !this.isCut(from, to)) return true;
    this.stats.cut++;
    return false;
  }

  isCut(from: number, to: number): boolean {
    return this.cuts.size > 0 && this.cuts.has(linkKey(from, to));
  }

  /** Cut (or heal) the link from a to b; both directions unless oneWay. */
  setCut(a: number, b: number, isCut: boolean, oneWay = false): void {
    const set = (x: number, y: number) =>
      isCut ? this.cuts.add(linkKey(x, y)) : this.cuts.delete(linkKey(x, y));
    set(a, b);
    if (!oneWay) set(b, a);
  }

  /**
   * Replace every cut by a partition: groups of ranks that talk only among themselves ([] heals
   * everything). A rank in no group talks to everyone; a rank listed twice belongs to its last group.
   */
  setPartition(groups: readonly (readonly number[])[]): void {
    const groupOf = new Map<number, number>();
    groups.forEach((g, i) => g.forEach((r) => groupOf.set(r, i)));
    this.cuts.clear();
    for (const [a, ga] of groupOf)
      for (const [b, gb] of groupOf) if (ga !== gb) this.cuts.add(linkKey(a, b));
  }

  healAll(): void {
    this.cuts.clear();
  }

  private drawDelay(): number {
    const { minDelayUs, maxDelayUs } = this.settings;
    const delay = minDelayUs + Math.floor(this.random.next() * (maxDelayUs - minDelayUs + 1));
    if (delay > 0) this.stats.delayed++;
    return delay;
  }
}

function linkKey(from: number, to: number): number {
  if (!(from >= 0 && from < LINK_SPAN && to >= 0 && to < LINK_SPAN))
    throw new RangeError(`rank out of range: ${from} -> ${to}`);
  return from * LINK_SPAN + to;
}

/** A duration given in ms (a flag) as whole µs, the unit of the model. */
export function msToUs(ms: number): number {
  return Math.round(ms * 1000);
}
