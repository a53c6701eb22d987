// A rank's view of the simulated clock that can be paused (the simulator's SIGSTOP): while paused,
// its timers that come due are held back and run, in order, when it resumes. Together with held
// network deliveries this freezes the rank: nothing of it runs but what was already running.
import type { Clock } from "../ports.js";
import type { SimClock } from "./clock.js";

interface Held {
  fn: () => void;
  cancelled: boolean;
}

export class PausableClock implements Clock {
  private paused = false;
  private held: Held[] = [];

  constructor(private readonly base: SimClock) {}

  nowUs(): number {
    return this.base.nowUs();
  }

  after(ms: number, fn: () => void): () => void {
    const h: Held = { fn, cancelled: false };
    const cancel = this.base.after(ms, () => this.run(h));
    return () => {
      h.cancelled = true;
      cancel();
    };
  }

  yieldNow(): Promise<void> {
    return new Promise((resolve) =>
      this.base.at(this.base.nowUs(), () => this.run({ fn: resolve, cancelled: false })),
    );
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const h of held) if (!h.cancelled) h.fn();
  }

  private run(h: Held): void {
    if (h.cancelled) return;
    if (this.paused) this.held.push(h);
    else h.fn();
  }
}
