// Virtual time for the simulator. Timers live in a queue ordered by (time, creation order); time
// only moves when the driver fires the next timer, i.e. when nothing else can run.
import type { Clock } from "../ports.js";

interface Timer {
  atUs: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

export class SimClock implements Clock {
  private now: number;
  private order = 0;
  private heap: Timer[] = [];
  private cancelled = 0;
  fired = 0;

  constructor(startUs = 1_700_000_000_000_000) {
    this.now = startUs;
  }

  nowUs(): number {
    return this.now;
  }

  after(ms: number, fn: () => void): () => void {
    // Round up: a wait of a fraction of a µs must still let time pass, or a loop waiting for a
    // deadline a fraction ahead would spin at one instant forever.
    return this.at(this.now + Math.max(0, Math.ceil(ms * 1000)), fn);
  }

  /** Run fn at virtual time atUs (or now, if that is past). */
  at(atUs: number, fn: () => void): () => void {
    const t: Timer = { atUs: Math.max(atUs, this.now), order: this.order++, fn, cancelled: false };
    this.push(t);
    return () => {
      if (t.cancelled) return;
      t.cancelled = true;
      // Most timers are read timeouts cancelled by an arriving message: sweep them out in bulk
      // rather than sifting each one out of the heap later.
      if (++this.cancelled > 4096 && this.cancelled * 2 > this.heap.length) this.sweep();
    };
  }

  yieldNow(): Promise<void> {
    return new Promise((resolve) => this.at(this.now, resolve));
  }

  /** Let time pass to atUs (when no timer is due before it). */
  advanceTo(atUs: number): void {
    if (atUs > this.now && this.nextAt() >= atUs) this.now = atUs;
  }

  /** Time of the next live timer, or Infinity. */
  nextAt(): number {
    while (this.heap.length > 0 && (this.heap[0] as Timer).cancelled) {
      this.pop();
      this.cancelled--;
    }
    return this.heap.length > 0 ? (this.heap[0] as Timer).atUs : Infinity;
  }

  /** Fire the next live timer (advancing time to it), and every other one due at that same
   * instant that was already queued. False if there is none. */
  fireNext(): boolean {
    const at = this.nextAt();
    if (at === Infinity) return false;
    this.now = at;
    const lastOrder = this.order;
    while (this.nextAt() === at && (this.heap[0] as Timer).order < lastOrder) {
      const t = this.pop() as Timer;
      t.cancelled = true; // a cancel after firing is a no-op (and not counted as garbage)
      this.fired++;
      t.fn();
    }
    return true;
  }

  private sweep(): void {
    const live = this.heap.filter((t) => !t.cancelled);
    live.sort((a, b) => (this.less(a, b) ? -1 : this.less(b, a) ? 1 : 0)); // a sorted array is a heap
    this.heap = live;
    this.cancelled = 0;
  }

  private less(a: Timer, b: Timer): boolean {
    return a.atUs < b.atUs || (a.atUs === b.atUs && a.order < b.order);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i] as Timer, h[p] as Timer)) break;
      [h[i], h[p]] = [h[p] as Timer, h[i] as Timer];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l] as Timer, h[m] as Timer)) m = l;
        if (r < h.length && this.less(h[r] as Timer, h[m] as Timer)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
        i = m;
      }
    }
    return top;
  }
}
