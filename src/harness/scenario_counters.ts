// Check of the injected frame faults (drop, dup, delay, and the links a partition cuts): the
// counters at the end of each rank's summary line are non-zero exactly where the scenario injects.
import { parseFaultCounters } from "./scenario_evidence.js";

export interface CounterExpectation {
  dropped: boolean;
  duplicated: boolean;
  delayed: boolean;
  cut: boolean;
}

/**
 * Each rank's summary line carries the fault counters, and each counter is non-zero exactly where
 * the scenario injected that fault (true) and zero where it did not (false): a drop scenario that
 * dropped nothing, or a quiet one that cut links, fails.
 */
export function confirmCounters(
  summaries: readonly (string | undefined)[],
  expect: CounterExpectation,
): string[] {
  const problems: string[] = [];
  for (const [r, line] of summaries.entries()) {
    if (line === undefined) continue; // a rank that did not finish is reported elsewhere
    const c = parseFaultCounters(line);
    if (!c) {
      problems.push(`rank ${r}'s summary line has no fault counters`);
      continue;
    }
    for (const k of ["dropped", "duplicated", "delayed", "cut"] as const) {
      if (expect[k] && c[k] === 0)
        problems.push(`rank ${r}: ${k} 0 although the scenario injects that fault`);
      if (!expect[k] && c[k] > 0)
        problems.push(`rank ${r}: ${k} ${c[k]} although the scenario does not inject that fault`);
    }
  }
  return problems;
}

/** The counters a scenario's rank flags (and its partitions) should make non-zero. */
export function expectedCounters(
  args: readonly string[],
  partitioned: boolean,
): CounterExpectation {
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const positive = (v: string | undefined) => v !== undefined && Number(v) > 0;
  const delay = flag("--delay");
  return {
    dropped: positive(flag("--drop")),
    duplicated: positive(flag("--dup")),
    delayed: delay !== undefined && Number(delay.split("-").pop()) > 0,
    cut: partitioned,
  };
}
