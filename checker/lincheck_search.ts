// The linearizability search over one key's ops (Wing & Gong, with Lowe's just-in-time
// linearization and memoised configurations, the approach porcupine and knossos take).
//
// A configuration is (set of ops already linearized, model state). From a configuration the ops
// that may go next are the unlinearized ones called no later than the earliest return among the
// unlinearized ops: an op that returned before another was called must come first. The search is
// a depth-first walk over configurations; a configuration seen before is not walked again (it
// failed the first time, or the search would have ended), which is what keeps histories of
// thousands of ops tractable. The walk ends when every required (ok) op is linearized; unknown ops
// may stay out, which is the same as taking effect after everything else.
//
// Ops are indexed in call order. With few clients, every op called before the first unlinearized
// ok op is linearized except a few pending unknown ones, so a set of linearized ops is stored as:
// the first unlinearized ok op, the pending unknown ops before it, and a bit window from there to
// the last linearized op. That keeps each memo entry to a few dozen bytes instead of n/8.
//
// The memo is capped (maxMemoBytes, an estimate of the memory it holds): a search that outgrows it
// gives up and says so, rather than letting node run out of memory after minutes.
import { registerModel, type KeyOp, type Model } from "./lincheck_model.js";

export interface SearchLimits {
  /** estimated bytes the memo of one key's search may hold before the search gives up */
  maxMemoBytes: number;
}

export const DEFAULT_MAX_MEMO_BYTES = 256 * 1024 * 1024;

export type SearchOutcome =
  | { kind: "linearizable"; configurations: number }
  | { kind: "violation"; configurations: number }
  | { kind: "gave-up"; configurations: number };

/** Bytes a memo entry costs beyond its key's characters: the Set slot and the string header. */
const ENTRY_OVERHEAD_BYTES = 48;
/** V8's Set holds at most 2^24 entries; stay clear of it whatever the byte cap says. */
const MAX_MEMO_ENTRIES = 8_000_000;
/** Chunk for String.fromCharCode(...codes), below any engine's argument limit. */
const CODES_PER_CALL = 8192;

/** Decides whether ops (one key's, in call order, from prepareKey) can be linearized in model. */
export function searchKey(
  ops: readonly KeyOp[],
  model: Model = registerModel,
  limits: SearchLimits = { maxMemoBytes: DEFAULT_MAX_MEMO_BYTES },
): SearchOutcome {
  return new Search(ops, model, limits).run();
}

/** One depth of the walk: the candidates tried there, and what was linearized from it. */
interface Frame {
  candidates: number[];
  next: number;
  chosen: number;
  stateBefore: number;
}

class Search {
  private readonly n: number;
  private readonly call: Float64Array;
  private readonly ret: Float64Array;
  private readonly required: Uint8Array;
  /** indices of the unknown (optional) ops, ascending */
  private readonly unknown: Int32Array;
  private readonly linearized: Uint8Array;
  private readonly words: Uint16Array;
  /** first ok op not linearized yet (n when there is none) */
  private lowRequired = 0;
  /** last linearized op + 1 */
  private high = 0;
  private remaining = 0;
  private state: number;
  private readonly memo = new Set<string>();
  private memoBytes = 0;
  private readonly codes: number[] = [];
  private readonly reach: Reachability;

  constructor(
    private readonly ops: readonly KeyOp[],
    private readonly model: Model,
    private readonly limits: SearchLimits,
  ) {
    this.n = ops.length;
    this.call = Float64Array.from(ops, (op) => op.call);
    this.ret = Float64Array.from(ops, (op) => op.ret);
    this.required = Uint8Array.from(ops, (op) => (op.required ? 1 : 0));
    this.unknown = Int32Array.from(ops.flatMap((op, i) => (op.required ? [] : [i])));
    this.linearized = new Uint8Array(this.n);
    this.words = new Uint16Array((this.n >> 4) + 1);
    this.remaining = this.required.reduce((sum, r) => sum + r, 0);
    this.state = model.initial;
    this.reach = new Reachability(ops);
    this.advanceLow();
  }

  run(): SearchOutcome {
    if (this.remaining === 0) return { kind: "linearizable", configurations: 0 };
    const frames: Frame[] = [this.frame()];
    for (;;) {
      const top = frames[frames.length - 1];
      if (top === undefined) {
        return { kind: "violation", configurations: this.memo.size };
      }
      const step = this.descend(top);
      if (step === "done") return { kind: "linearizable", configurations: this.memo.size };
      if (step === "gave-up") return { kind: "gave-up", configurations: this.memo.size };
      if (step === "deeper") {
        frames.push(this.frame());
        continue;
      }
      // Every candidate of this depth failed: undo the op that led here, go on in the parent.
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent !== undefined) {
        this.unlinearize(parent.chosen);
        this.state = parent.stateBefore;
      }
    }
  }

  /** Linearizes the next untried candidate of frame that leads to an unseen configuration. */
  private descend(frame: Frame): "deeper" | "exhausted" | "done" | "gave-up" {
    while (frame.next < frame.candidates.length) {
      const index = frame.candidates[frame.next++] ?? 0;
      const op = this.ops[index];
      if (op === undefined) continue;
      const after = this.model.step(this.state, op);
      if (after < 0) continue;
      this.linearize(index);
      if (this.reach.doomed(after)) {
        this.unlinearize(index);
        continue;
      }
      const key = this.memoKey(after);
      if (this.memo.has(key)) {
        this.unlinearize(index);
        continue;
      }
      this.memo.add(key);
      this.memoBytes += key.length * 2 + ENTRY_OVERHEAD_BYTES;
      frame.chosen = index;
      frame.stateBefore = this.state;
      this.state = after;
      if (this.remaining === 0) return "done";
      if (this.memoBytes > this.limits.maxMemoBytes || this.memo.size >= MAX_MEMO_ENTRIES) {
        return "gave-up";
      }
      return "deeper";
    }
    return "exhausted";
  }

  private frame(): Frame {
    return { candidates: this.candidates(), next: 0, chosen: -1, stateBefore: this.state };
  }

  /**
   * The ops that may be linearized next: unlinearized, and called no later than the earliest
   * return among the unlinearized ops (an op returning at the very instant another is called
   * counts as concurrent with it: one clock reading cannot order them). Ok ops come first, in call
   * order: trying a pending unknown op only when the ok ones fail keeps the walk close to the
   * recorded order, where most histories are linearized.
   */
  private candidates(): number[] {
    const ok: number[] = [];
    const optional: number[] = [];
    for (const index of this.unknown) {
      if (index >= this.lowRequired) break;
      if (this.linearized[index] === 0) optional.push(index);
    }
    let earliestRet = Infinity;
    for (let i = this.lowRequired; i < this.n; i++) {
      // Calls ascend and earliestRet only falls to the ret of an op already scanned (>= its call),
      // so every op scanned before the stop is still within the final bound.
      if ((this.call[i] ?? 0) > earliestRet) break;
      if (this.linearized[i] === 1) continue;
      earliestRet = Math.min(earliestRet, this.ret[i] ?? Infinity);
      (this.required[i] === 1 ? ok : optional).push(i);
    }
    // A read that may go now and fits the state goes now, with no alternative tried: in any
    // linearization from here it can be moved to the front (it changes no state, and nothing it
    // must follow is left). This removes the branching over where each read sits.
    for (const index of ok) {
      const op = this.ops[index];
      if (op !== undefined && op.kind === "read" && this.model.step(this.state, op) >= 0) {
        return [index];
      }
    }
    return ok.concat(optional);
  }

  private linearize(index: number): void {
    this.linearized[index] = 1;
    this.reach.remove(index);
    this.words[index >> 4] = (this.words[index >> 4] ?? 0) | (1 << (index & 15));
    if (this.required[index] === 1) this.remaining--;
    if (index === this.lowRequired) this.advanceLow();
    if (index >= this.high) this.high = index + 1;
  }

  private unlinearize(index: number): void {
    this.linearized[index] = 0;
    this.reach.restore(index);
    this.words[index >> 4] = (this.words[index >> 4] ?? 0) & ~(1 << (index & 15));
    if (this.required[index] === 1) {
      this.remaining++;
      if (index < this.lowRequired) this.lowRequired = index;
    }
    if (index + 1 === this.high) {
      while (this.high > 0 && this.linearized[this.high - 1] === 0) this.high--;
    }
  }

  private advanceLow(): void {
    while (
      this.lowRequired < this.n &&
      (this.linearized[this.lowRequired] === 1 || this.required[this.lowRequired] === 0)
    ) {
      this.lowRequired++;
    }
  }

  /**
   * The configuration (linearized set, state) as a string, injective: state, the first word of
   * the window, the pending unknown ops before the window, then the window's words. Everything
   * before the window that is not listed as pending is linearized (it is before lowRequired).
   */
  private memoKey(state: number): string {
    const codes = this.codes;
    codes.length = 0;
    const firstWord = this.lowRequired >> 4;
    codes.push(state & 0xffff, state >>> 16, firstWord & 0xffff, firstWord >>> 16, 0, 0);
    let pending = 0;
    for (const index of this.unknown) {
      if (index >= firstWord << 4) break;
      if (this.linearized[index] === 0) {
        codes.push(index & 0xffff, index >>> 16);
        pending++;
      }
    }
    codes[4] = pending & 0xffff;
    codes[5] = pending >>> 16;
    const endWord = (this.high + 15) >> 4;
    for (let w = firstWord; w < endWord; w++) codes.push(this.words[w] ?? 0);
    let key = "";
    for (let start = 0; start < codes.length; start += CODES_PER_CALL) {
      key += String.fromCharCode(...codes.slice(start, start + CODES_PER_CALL));
    }
    return key;
  }
}

/**
 * Prunes configurations that cannot lead anywhere: some unlinearized ok op needs state x (a read
 * of x, a cas from x), the state is not x, and no unlinearized op can make x any more. Without
 * this the walk, having let a write bury the value a later read returns, would go on through
 * every order of the ops concurrent with that read before the read's return stopped it.
 */
class Reachability {
  /** per state: unlinearized ok ops that need it */
  private readonly needing: Int32Array;
  /** per state: unlinearized ops that can make it */
  private readonly making: Int32Array;
  /** states needed and no longer makeable */
  private lost = 0;

  constructor(private readonly ops: readonly KeyOp[]) {
    const size = ops.reduce((max, op) => Math.max(max, op.needs, op.makes), 0) + 1;
    this.needing = new Int32Array(size);
    this.making = new Int32Array(size);
    for (const op of ops) {
      if (op.needs >= 0) this.needing[op.needs] = (this.needing[op.needs] ?? 0) + 1;
      if (op.makes >= 0) this.making[op.makes] = (this.making[op.makes] ?? 0) + 1;
    }
    for (let x = 0; x < size; x++) if (this.isLost(x)) this.lost++;
  }

  /** Whether, in state, some needed state can no longer be reached. */
  doomed(state: number): boolean {
    return this.lost > (state < this.needing.length && this.isLost(state) ? 1 : 0);
  }

  /** The op at index was linearized. */
  remove(index: number): void {
    this.change(index, -1);
  }

  /** The op at index was taken back. */
  restore(index: number): void {
    this.change(index, 1);
  }

  private change(index: number, delta: number): void {
    const op = this.ops[index];
    if (op === undefined) return;
    for (const [counts, x] of [
      [this.needing, op.needs],
      [this.making, op.makes],
    ] as const) {
      if (x < 0) continue;
      const before = this.isLost(x);
      counts[x] = (counts[x] ?? 0) + delta;
      this.lost += Number(this.isLost(x)) - Number(before);
    }
  }

  private isLost(x: number): boolean {
    return (this.needing[x] ?? 0) > 0 && (this.making[x] ?? 0) === 0;
  }
}
