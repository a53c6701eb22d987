// The thin CSP shell around a processor's pure logic: a timed read on its inbox, a step of the
// logic (draining what else is already queued, so effects of many messages are performed
// together: one storage sync for all of them — group commit), then the effects. The loop yields
// to the event loop every few messages so timers, sockets and the other processors never starve.
import type { Clock } from "../ports.js";
import { invariant } from "../protocol/assert.js";
import type { Effect, ProcessorLogic } from "../protocol/effects.js";
import type { Chan } from "./chan.js";

export interface LoopOptions {
  /** -o: the longest a read waits before the logic gets a timeout step. */
  readTimeoutMs: number;
  /** Most messages stepped before effects are performed. */
  drainMax: number;
  /** Yield to the macrotask queue after this many messages. */
  yieldEvery: number;
}

export interface ProcessorSpec<I extends object> {
  name: string;
  inbox: Chan<I>;
  logic: ProcessorLogic<I>;
  perform(effects: Effect[]): void | Promise<void>;
}

export interface LoopControl {
  stopped(): boolean;
}

export async function runProcessor<I extends object>(
  p: ProcessorSpec<I>,
  clock: Clock,
  opts: LoopOptions,
  ctl: LoopControl,
): Promise<void> {
  let sinceYield = 0;
  while (!ctl.stopped()) {
    const waitMs = Math.max(
      0,
      Math.min(opts.readTimeoutMs, (p.logic.wakeAt() - clock.nowUs()) / 1000),
    );
    const first = waitMs > 0 ? await p.inbox.recv(waitMs) : p.inbox.poll();
    if (ctl.stopped()) break;
    const nowUs = clock.nowUs();
    const out: Effect[] = [];
    let stepped = 0;
    for (
      let msg = first;
      msg !== undefined;
      msg = stepped < opts.drainMax ? p.inbox.poll() : undefined
    ) {
      p.logic.onInput(msg, nowUs, out);
      stepped++;
    }
    if (stepped === 0 || nowUs >= p.logic.wakeAt()) {
      p.logic.onTime(nowUs, out);
      // Everything due was done: a wake-up still at or before now would make this loop spin.
      const wake = p.logic.wakeAt();
      invariant(
        wake > nowUs,
        () => `${p.name}: after its timeout step at ${nowUs} µs it asks to wake at ${wake} µs`,
      );
    }
    p.logic.endStep?.(nowUs, out);
    if (out.length > 0) {
      const done = p.perform(out);
      if (done) await done;
    }
    sinceYield += stepped;
    if (sinceYield >= opts.yieldEvery || (stepped === 0 && waitMs === 0)) {
      sinceYield = 0;
      await clock.yieldNow();
    }
  }
}
