// Checking a whole history: partition by key, search each key, and for the key that is reported,
// find the op whose return made its history impossible.
import type { HistoryOp } from "./lincheck_history.js";
import { prepareKey, registerModel } from "./lincheck_model.js";
import {
  DEFAULT_MAX_MEMO_BYTES,
  searchKey,
  type SearchLimits,
  type SearchOutcome,
} from "./lincheck_search.js";

/** The outcome for one key of a history. */
export interface KeyVerdict {
  key: string;
  outcome: SearchOutcome;
  /** the key's recorded ops, in call order */
  history: HistoryOp[];
  /** ops the search walked (fail ops, unknown reads and unneeded unknown writes left out) */
  searched: number;
}

/** Where a failing key's history first goes wrong (see findCulprit). */
export interface Culprit {
  /** the op whose return made the history impossible */
  op: HistoryOp;
  /** the ops called by then, in call order: the ones the violation can involve */
  shown: HistoryOp[];
}

export interface HistoryVerdict {
  result: "linearizable" | "not linearizable" | "gave up";
  keys: number;
  operations: number;
  /** failing keys, the one with the fewest recorded ops first (then by key) */
  failing: KeyVerdict[];
  /** for failing[0]: where its history first goes wrong */
  culprit: Culprit | undefined;
  gaveUp: KeyVerdict[];
}

const DEFAULT_LIMITS: SearchLimits = { maxMemoBytes: DEFAULT_MAX_MEMO_BYTES };

/**
 * Checks a whole history. Linearizability is compositional (Herlihy & Wing): the history is
 * linearizable iff each key's sub-history is, so each key is searched on its own, which turns one
 * search over everything into many small ones. A definite violation outranks a key that gave up.
 */
export function checkHistory(
  history: readonly HistoryOp[],
  limits: SearchLimits = DEFAULT_LIMITS,
): HistoryVerdict {
  const byKey = new Map<string, HistoryOp[]>();
  for (const op of history) {
    const list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, [op]);
    else list.push(op);
  }
  const failing: KeyVerdict[] = [];
  const gaveUp: KeyVerdict[] = [];
  for (const [key, ops] of byKey) {
    const sorted = [...ops].sort((a, b) => a.call - b.call || a.line - b.line);
    const prepared = prepareKey(sorted);
    const outcome = searchKey(prepared.ops, registerModel, limits);
    const verdict = { key, outcome, history: sorted, searched: prepared.ops.length };
    if (outcome.kind === "violation") failing.push(verdict);
    else if (outcome.kind === "gave-up") gaveUp.push(verdict);
  }
  const bySize = (a: KeyVerdict, b: KeyVerdict): number =>
    a.history.length - b.history.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  failing.sort(bySize);
  gaveUp.sort(bySize);
  const first = failing[0];
  const culprit = first === undefined ? undefined : findCulprit(first.history, limits);
  const result =
    failing.length > 0 ? "not linearizable" : gaveUp.length > 0 ? "gave up" : "linearizable";
  return { result, keys: byKey.size, operations: history.length, failing, culprit, gaveUp };
}

/**
 * The earliest return after which a failing key's history cannot be linearized. The prefix of a
 * history up to time t (ops called by t; those still open at t may or may not have taken effect)
 * is linearizable whenever a longer prefix is, so a binary search over the ok ops' returns finds
 * it in a logarithmic number of searches. The op returning then is what a reader should look at
 * first: a read that returned a value it could not see, a write that cannot have happened there.
 */
export function findCulprit(
  history: readonly HistoryOp[],
  limits: SearchLimits = DEFAULT_LIMITS,
): Culprit | undefined {
  const returns = history
    .filter((op) => op.status === "ok" && op.ret !== null)
    .sort((a, b) => (a.ret ?? 0) - (b.ret ?? 0) || a.line - b.line);
  let low = 0;
  let high = returns.length - 1;
  // Invariant: the prefix up to returns[high] fails (the whole history does), before low passes.
  while (low < high) {
    const middle = (low + high) >> 1;
    const at = returns[middle]?.ret ?? 0;
    const outcome = searchKey(prepareKey(prefixAt(history, at)).ops, registerModel, limits);
    // A prefix that is too large to search counts as passing: the answer stays a failing prefix.
    if (outcome.kind === "violation") high = middle;
    else low = middle + 1;
  }
  const op = returns[high];
  if (op === undefined || op.ret === null) return undefined;
  const end = op.ret;
  return { op, shown: history.filter((other) => other.call <= end) };
}

/** The history as it stood at time t: later calls left out, ok ops still open made unknown. */
function prefixAt(history: readonly HistoryOp[], t: number): HistoryOp[] {
  const prefix: HistoryOp[] = [];
  for (const op of history) {
    if (op.call > t) continue;
    // A fail op did not take effect whenever it returned; an ok one still open might have.
    if (op.status === "fail" || (op.ret !== null && op.ret <= t)) prefix.push(op);
    else prefix.push({ ...op, status: "unknown", ret: null });
  }
  return prefix;
}
