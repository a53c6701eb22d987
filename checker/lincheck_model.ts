// The sequential model the search checks a key's history against, and the preparation of that
// history: which ops are dropped, which are optional, and the compact form the search walks.
//
// The model is a register per key: write sets it, delete sets it to absent (null), read returns
// it (null when absent), cas(from, to) succeeds iff the current value equals from. Every key
// starts absent. Values are interned to small integers (0 = absent) so that a model state is a
// number: the search remembers (set of linearized ops, state) pairs, and numbers make those
// memo keys short.
import type { HistoryOp, Value } from "./lincheck_history.js";

/** One op of one key's sub-history, as the search sees it. */
export interface KeyOp {
  kind: "read" | "write" | "cas";
  /** read: the value seen; write: the value written (0 for delete); cas: from */
  a: number;
  /** cas: to; otherwise unused (0) */
  b: number;
  /** the state this op can only happen in (an ok read or cas), or -1 (see search's pruning) */
  needs: number;
  /** the state this op may leave behind (a write or cas), or -1 */
  makes: number;
  call: number;
  /** Infinity for an unknown op: it may take effect at any time after its call */
  ret: number;
  /** false for an unknown op: the history is linearizable with or without it */
  required: boolean;
  source: HistoryOp;
}

/**
 * A sequential specification over integer states. step returns the state after op, or -1 when op
 * cannot happen in that state (a read of another value, a cas that must have succeeded but
 * could not). Kept as an interface so that other objects (a lock, a counter) can be checked by
 * the same search, provided their ops' needs/makes are filled in truthfully: the state changes
 * only to some op's makes, and an op with needs >= 0 can only happen in that state.
 */
export interface Model {
  readonly initial: number;
  step(state: number, op: KeyOp): number;
}

export const registerModel: Model = {
  initial: 0,
  step(state: number, op: KeyOp): number {
    switch (op.kind) {
      case "read":
        return state === op.a ? state : -1;
      case "write":
        return op.a;
      case "cas":
        if (state === op.a) return op.b;
        // An unknown cas that found another value simply did not apply; an ok one must apply.
        return op.required ? -1 : state;
    }
  },
};

/** A key's ops ready for the search. */
export interface PreparedKey {
  /** sorted by call (then by line), so that an index order is a call order */
  ops: KeyOp[];
  /** how many ops of the key were left out (fail ops, unknown reads, unneeded unknown writes) */
  dropped: number;
}

/**
 * Turns a key's recorded ops into the search's form. Left out, because they cannot change the
 * verdict:
 * - fail ops: they certainly did not take effect (a failed read saw nothing);
 * - unknown reads: whatever they would have returned, nobody saw it;
 * - unknown writes, deletes and cases whose resulting value nothing needs (see dropUnneeded).
 */
export function prepareKey(history: readonly HistoryOp[]): PreparedKey {
  const values = new Map<string, number>();
  const intern = (value: Value): number => {
    if (value === null) return 0;
    let id = values.get(value);
    if (id === undefined) {
      id = values.size + 1;
      values.set(value, id);
    }
    return id;
  };
  const ops: KeyOp[] = [];
  for (const source of history) {
    if (source.status === "fail") continue;
    const required = source.status === "ok";
    const ret = required && source.ret !== null ? source.ret : Infinity;
    const base = { call: source.call, ret, required, source, b: 0, needs: -1, makes: -1 };
    if (source.op === "read") {
      if (!required || source.value === undefined) continue;
      ops.push({ ...base, kind: "read", a: intern(source.value) });
    } else if (source.op === "write") {
      ops.push({ ...base, kind: "write", a: intern(source.value) });
    } else if (source.op === "delete") {
      ops.push({ ...base, kind: "write", a: 0 });
    } else {
      ops.push({ ...base, kind: "cas", a: intern(source.from), b: intern(source.to) });
    }
  }
  const kept = dropUnneeded(ops);
  mergeUnobserved(kept, values.size + 1);
  for (const op of kept) {
    op.needs = op.required && op.kind !== "write" ? op.a : -1;
    op.makes = op.kind === "read" ? -1 : resultOf(op);
  }
  kept.sort((x, y) => x.call - y.call || x.source.line - y.source.line);
  return { ops: kept, dropped: history.length - kept.length };
}

/**
 * An unknown op that would set value v can be left out when nothing needs v: no ok read returns
 * it and no remaining cas expects it. Proof sketch: take a linearization that includes the op and remove it; the ops until the next write then see the
 * previous value instead of v. None of them is an ok read of v or a cas from v (nothing needs v),
 * so ok reads and ok cases still hold, and an unknown cas among them can be said not to have
 * applied. Leaving such ops out matters: every optional op the search keeps doubles the states it
 * may have to visit. Repeated until nothing changes, since dropping an unknown cas from v can make
 * v unneeded.
 */
function dropUnneeded(ops: KeyOp[]): KeyOp[] {
  let kept = ops;
  for (;;) {
    const needed = new Set<number>();
    for (const op of kept) {
      if ((op.kind === "read" && op.required) || op.kind === "cas") needed.add(op.a);
    }
    const next = kept.filter((op) => op.required || op.kind === "read" || needed.has(resultOf(op)));
    if (next.length === kept.length) return kept;
    kept = next;
  }
}

/**
 * Gives every value that nothing observes (no ok read returns it, no cas expects it) one id,
 * unobserved. States holding two such values behave alike (every read and every cas from a
 * needed value fails in both, writes overwrite both), so merging them lets the memo recognise
 * configurations that differ only in which unread write went last: with many concurrent blind
 * writes that is most of the search.
 */
function mergeUnobserved(ops: KeyOp[], unobserved: number): void {
  const needed = new Set<number>([registerModel.initial]);
  for (const op of ops) {
    if (op.kind === "read" || op.kind === "cas") needed.add(op.a);
  }
  for (const op of ops) {
    if (op.kind === "write" && !needed.has(op.a)) op.a = unobserved;
    if (op.kind === "cas" && !needed.has(op.b)) op.b = unobserved;
  }
}

function resultOf(op: KeyOp): number {
  return op.kind === "cas" ? op.b : op.a;
}

/** Readable form of a value in messages: "5" quoted as JSON, absent as null. */
export function showValue(value: Value | undefined): string {
  return value === undefined ? "?" : JSON.stringify(value);
}
