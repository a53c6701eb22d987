// The shape of every Bayou processor: a timed read on its inbox, a step per message (draining what
// is already queued), a tick when the read times out, and a yield to the event loop every few
// messages so sockets, timers and the other processors never starve. (The ranks' runProcessor in
// csp/processor.ts also groups effects for one storage sync; a Bayou server has no storage, so
// its processors perform their effects as they step.)
import type { Chan } from "../../csp/chan.js";
import type { Clock } from "../../ports.js";

/** How long an idle processor with timeouts to check waits before its tick. */
export const TICK_MS = 50;
/** How long an idle processor without a tick waits (it only checks whether it still runs). */
export const IDLE_MS = 1000;
const YIELD_EVERY = 64;

export interface LoopTick {
  run(): void;
  /** Time until the next tick is due (read again after every tick). */
  waitMs(): number;
}

export async function runLoop<T extends object>(
  inbox: Chan<T>,
  clock: Clock,
  running: () => boolean,
  step: (msg: T) => void,
  tick: LoopTick | null = null,
): Promise<void> {
  let sinceYield = 0;
  let dueUs = clock.nowUs() + (tick?.waitMs() ?? IDLE_MS) * 1000;
  while (running()) {
    const waitMs = tick === null ? IDLE_MS : Math.max(0, (dueUs - clock.nowUs()) / 1000);
    const first: T | undefined = await inbox.recv(waitMs);
    if (!running()) break;
    let m: T | undefined = first;
    for (let n = 0; m !== undefined && n < YIELD_EVERY; m = inbox.poll(), n += 1) {
      step(m);
      sinceYield += 1;
    }
    const now = clock.nowUs();
    if (tick !== null && now >= dueUs) {
      tick.run();
      dueUs = now + tick.waitMs() * 1000;
    } else if (tick !== null && first !== undefined) {
      // A message may have set an earlier timeout.
      dueUs = Math.min(dueUs, now + tick.waitMs() * 1000);
    }
    if (sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await clock.yieldNow();
    }
  }
}

/** A tick that runs every `ms`. */
export function every(ms: number, run: () => void): LoopTick {
  return { run, waitMs: () => ms };
}
