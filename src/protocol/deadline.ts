// A named deadline: the one shape every timer of the protocol takes. A processor arms it, asks
// whether it fired, disarms it; its wake-up time is the earliest armed deadline. A deadline that
// fires again and again at the same instant is a loop that would spin: an invariant, not a hang.
import { invariant } from "./assert.js";

/** Fires at one instant this many times in a row and the logic is re-arming it into the past. */
const MAX_FIRES_AT_ONE_INSTANT = 64;

export class Deadline {
  private atUs = Infinity;
  private lastFiredUs = -Infinity;
  private firesAtLastInstant = 0;

  constructor(readonly name: string) {}

  /** When it fires (Infinity: disarmed). */
  get at(): number {
    return this.atUs;
  }

  get armed(): boolean {
    return this.atUs !== Infinity;
  }

  arm(atUs: number): void {
    invariant(!Number.isNaN(atUs), () => `deadline ${this.name}: armed at NaN`);
    this.atUs = atUs;
  }

  /** Arm unless it is armed already (keeps the earlier time). */
  armIfIdle(atUs: number): void {
    if (!this.armed) this.arm(atUs);
  }

  disarm(): void {
    this.atUs = Infinity;
  }

  /** True if nowUs reached it; a deadline that fired is disarmed (re-arm it to fire again). */
  fired(nowUs: number): boolean {
    if (nowUs < this.atUs) return false;
    this.atUs = Infinity;
    if (nowUs === this.lastFiredUs) this.firesAtLastInstant++;
    else this.firesAtLastInstant = 1;
    this.lastFiredUs = nowUs;
    invariant(
      this.firesAtLastInstant <= MAX_FIRES_AT_ONE_INSTANT,
      () =>
        `deadline ${this.name} fired ${this.firesAtLastInstant} times at ${nowUs} µs: the loop would spin`,
    );
    return true;
  }
}

/** The earliest of the armed deadlines (Infinity if none is). */
export function earliest(deadlines: readonly Deadline[]): number {
  let min = Infinity;
  for (const d of deadlines) if (d.at < min) min = d.at;
  return min;
}
