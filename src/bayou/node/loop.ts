// The shape of every Bayou processor: a timed read on its inbox, a step per message (draining what
// is already queued), a tick when the read times out, and a yield to the event loop every few
// messages so sockets, timers and the other processors never starve. (The ranks' runProcessor in
// csp/processor.ts also groups effects for one storage sync; a Bayou server has no storage, so
// its processors perform their effects as they step.)
import type { Chan } from "../../csp/chan.js";
import type { Clock } from "../../ports.js";

/** How long an idle processor waits before its tick (timeouts are checked then). */
export const TICK_MS = 50;
const YIELD_EVERY = 64;

export async function runLoop<T extends object>(
  inbox: Chan<T>,
  clock: Clock,
  running: () => boolean,
  step: (msg: T) => void,
  tick: () => void = () => {},
): Promise<void> {
  let sinceYield = 0;
  let lastTickUs = clock.nowUs();
  while (running()) {
    const first: T | undefined = await inbox.recv(TICK_MS);
    if (!running()) break;
    let m: T | undefined = first;
    for (let n = 0; m !== undefined && n < YIELD_EVERY; m = inbox.poll(), n += 1) {
      step(m);
      sinceYield += 1;
    }
    const now = clock.nowUs();
    if (first === undefined || now - lastTickUs >= TICK_MS * 1000) {
      lastTickUs = now;
      tick();
    }
    if (sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await clock.yieldNow();
    }
  }
}
