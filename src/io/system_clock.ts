import { performance } from "node:perf_hooks";
import type { Clock } from "../ports.js";

/** Wall-clock microseconds (monotonic within the process) and real timers. */
export class SystemClock implements Clock {
  nowUs(): number {
    return Math.floor((performance.timeOrigin + performance.now()) * 1000);
  }

  after(ms: number, fn: () => void): () => void {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  }

  yieldNow(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }
}
