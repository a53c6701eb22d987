// A small deterministic network for LeaseCore tests: global time in µs, every rank with its own
// clock (a rate within a few % of 1 and an offset), seeded delays and drops, partitions, kill -9
// and restart. It records every rank's held intervals in GLOBAL time (from the lease lines), so a
// test can check that no two ranks ever held the lease at once whatever their clocks said.
import { Prng } from "../faults/prng.js";
import type { LeaseMsg } from "../protocol/lease_messages.js";
import { LEASE_DEFAULTS, type LeaseConfig } from "./config.js";
import { LeaseCore, type LeaseEffect, type LeaseView } from "./core.js";

export interface Interval {
  rank: number;
  term: number;
  fromG: number;
  untilG: number;
}

interface SimNode {
  core: LeaseCore;
  rate: number;
  offsetUs: number;
  /** Only the latest wake of the latest life counts. */
  wakeId: number;
  view: LeaseView;
}

type Event =
  | { atG: number; seq: number; kind: "deliver"; to: number; msg: LeaseMsg; life: number }
  | { atG: number; seq: number; kind: "wake"; rank: number; wakeId: number };

export interface SimOptions {
  n: number;
  seed: number;
  drop?: number;
  minDelayUs?: number;
  maxDelayUs?: number;
  /** Clock rates are drawn from 1 ± this. */
  rateSpread?: number;
  cfg?: Partial<LeaseConfig>;
  priorities?: number[];
}

export class LeaseSim {
  nowG = 0;
  readonly intervals: Interval[] = [];
  readonly nodes: (SimNode | null)[];
  /** Ranks that cannot talk to each other: a message crosses only within one side. */
  private sides: number[] | null = null;
  private readonly lives: number[];
  private events: Event[] = [];
  private seq = 0;
  private readonly rng: Prng;
  /** Per rank: what its messages say when sent (counted for tests of silence). */
  readonly sent: number[];

  constructor(private readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed);
    this.nodes = Array.from({ length: opts.n }, () => null);
    this.lives = Array.from({ length: opts.n }, () => 0);
    this.sent = Array.from({ length: opts.n }, () => 0);
  }

  /** Start (or restart) rank r with a fresh core: it forgot everything. */
  start(r: number): void {
    const spread = this.opts.rateSpread ?? 0.02;
    const rate = 1 + (this.rng.next() * 2 - 1) * spread;
    const offsetUs = Math.floor(this.rng.next() * 1e9);
    const cfg: LeaseConfig = {
      ...LEASE_DEFAULTS,
      me: r,
      n: this.opts.n,
      priority: this.opts.priorities?.[r] ?? 0,
      ...this.opts.cfg,
    };
    cfg.startCounter = Math.floor((offsetUs + this.nowG * rate) / 1000);
    const core = new LeaseCore(cfg, new Prng(this.opts.seed * 31 + r * 7 + this.lives[r]! * 131));
    this.lives[r]! += 1;
    const node: SimNode = { core, rate, offsetUs, wakeId: 0, view: core.view(0) };
    this.nodes[r] = node;
    this.step(r, (now, out) => core.start(now, out));
  }

  kill(r: number): void {
    this.nodes[r] = null;
  }

  stop(r: number): void {
    const node = this.nodes[r];
    if (node) this.step(r, (now, out) => node.core.stop(now, out));
    this.nodes[r] = null;
  }

  /** Split the ranks: side[r] is rank r's side (null: heal). */
  partition(side: number[] | null): void {
    this.sides = side;
  }

  localUs(r: number): number {
    const node = this.nodes[r];
    if (!node) throw new Error(`rank ${r} is down`);
    return Math.floor(node.offsetUs + this.nowG * node.rate);
  }

  view(r: number): LeaseView | null {
    return this.nodes[r]?.view ?? null;
  }

  /** The ranks that say they are master now. */
  masters(): number[] {
    const out: number[] = [];
    this.nodes.forEach((node, r) => {
      if (node?.view.iAmMaster) out.push(r);
    });
    return out;
  }

  /** Run until global time untilG (µs). */
  runUntil(untilG: number): void {
    for (let guard = 0; ; guard++) {
      if (guard > 5_000_000) throw new Error(`the simulation does not advance at ${this.nowG} µs`);
      let best = -1;
      for (let i = 0; i < this.events.length; i++) {
        const e = this.events[i]!;
        const b = this.events[best];
        if (b === undefined || e.atG < b.atG || (e.atG === b.atG && e.seq < b.seq)) best = i;
      }
      const e = this.events[best];
      if (e === undefined || e.atG > untilG) break;
      this.events.splice(best, 1);
      this.nowG = e.atG;
      this.fire(e);
    }
    this.nowG = untilG;
  }

  /** Every pair of intervals of different ranks that overlap in global time. */
  overlaps(): string[] {
    const bad: string[] = [];
    const ivs = this.intervals;
    for (let i = 0; i < ivs.length; i++)
      for (let j = i + 1; j < ivs.length; j++) {
        const a = ivs[i]!;
        const b = ivs[j]!;
        if (a.rank !== b.rank && a.fromG < b.untilG && b.fromG < a.untilG)
          bad.push(`${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`);
      }
    return bad;
  }

  private fire(e: Event): void {
    if (e.kind === "wake") {
      const node = this.nodes[e.rank];
      if (!node || node.wakeId !== e.wakeId) return;
      this.step(e.rank, (now, out) => node.core.onTime(now, out));
      return;
    }
    const node = this.nodes[e.to];
    if (!node || this.lives[e.to] !== e.life) return; // sent to a life that is gone
    this.step(e.to, (now, out) => node.core.onMessage(e.msg, now, out));
  }

  private step(r: number, input: (nowUs: number, out: LeaseEffect[]) => void): void {
    const node = this.nodes[r]!;
    const out: LeaseEffect[] = [];
    input(this.localUs(r), out);
    for (const eff of out) this.perform(r, node, eff);
    if (this.nodes[r] !== node) return;
    node.wakeId++;
    const at = node.core.wakeAtUs();
    if (at === Infinity) return;
    let atG = Math.max(this.nowG, Math.ceil((at - node.offsetUs) / node.rate));
    while (Math.floor(node.offsetUs + atG * node.rate) < at) atG++; // rounding

    this.push({ atG, seq: 0, kind: "wake", rank: r, wakeId: node.wakeId });
  }

  private perform(r: number, node: SimNode, eff: LeaseEffect): void {
    if (eff.kind === "view") node.view = eff.view;
    else if (eff.kind === "line") this.onLine(r, node, eff.line);
    else this.send(r, eff.to, eff.msg);
  }

  private onLine(r: number, node: SimNode, line: string): void {
    const [kind, , term, a, b] = line.split(" ").map((w, i) => (i === 0 ? w : Number(w)));
    const toG = (us: number) => (us - node.offsetUs) / node.rate;
    if (kind === "held")
      this.intervals.push({
        rank: r,
        term: term as number,
        fromG: toG(a as number),
        untilG: toG(b as number),
      });
    else if (kind === "ended")
      for (const iv of this.intervals)
        if (iv.rank === r && iv.untilG > toG(a as number)) iv.untilG = toG(a as number);
  }

  private send(from: number, to: number, msg: LeaseMsg): void {
    this.sent[from]! += 1;
    if (this.sides && this.sides[from] !== this.sides[to]) return;
    if (this.rng.next() < (this.opts.drop ?? 0)) return;
    const lo = this.opts.minDelayUs ?? 200;
    const hi = this.opts.maxDelayUs ?? 2000;
    const atG = this.nowG + lo + Math.floor(this.rng.next() * (hi - lo));
    this.push({ atG, seq: 0, kind: "deliver", to, msg, life: this.lives[to]! });
  }

  private push(e: Event): void {
    e.seq = this.seq++;
    this.events.push(e);
  }
}
