// The checker's rules, applied in memory to a simulated run's logs (the simulator checks thousands
// of runs; checker/ stays the independent second opinion on real runs).
import { parseLogLines } from "../protocol/log_lines.js";

export interface ParsedLog {
  commits: string[];
  generated: string[];
}

/** Parse a rank's log; structural problems (gaps, repeats, two values at a seq) become violations. */
export function parseLog(rank: number, text: string, violations: string[]): ParsedLog {
  const commits: string[] = [];
  const generated: string[] = [];
  for (const line of parseLogLines(text)) {
    const { id, seq } = line;
    if (line.kind === "generate") {
      generated.push(id);
      continue;
    }
    if (seq === commits.length) commits.push(id);
    else if (seq < commits.length && commits[seq] !== id)
      violations.push(`rule 1: rank ${rank} seq ${seq} has ${commits[seq]} and ${id}`);
    else if (seq < commits.length) violations.push(`strict: rank ${rank} commits seq ${seq} twice`);
    else violations.push(`strict: rank ${rank} has a gap before seq ${seq}`);
  }
  return { commits, generated };
}

/**
 * Validity (every rank committed something), rules 1-3 and the strict rules; with converged, also
 * "nothing lost" on every rank. Rules 1-3 only compare the commits there are, so without the first
 * check a rank that never committed would pass (the checker fails it too: "node <i> have empty commit").
 */
export function checkLogs(texts: readonly string[], converged: boolean): string[] {
  const violations: string[] = [];
  const logs = texts.map((t, r) => parseLog(r, t, violations));
  logs.forEach((l, r) => {
    if (l.commits.length === 0)
      violations.push(`validity: rank ${r} has empty commit (committed nothing)`);
  });
  const generated = new Set(logs.flatMap((l) => l.generated));
  logs.forEach((l, r) => {
    const seen = new Map<string, number>();
    l.commits.forEach((id, seq) => {
      if (!generated.has(id)) violations.push(`rule 2: rank ${r} committed ${id}, never generated`);
      const before = seen.get(id);
      if (before !== undefined)
        violations.push(`strict: rank ${r} committed ${id} at seqs ${before} and ${seq}`);
      seen.set(id, seq);
    });
  });
  for (let a = 0; a < logs.length; a++) {
    for (let b = a + 1; b < logs.length; b++) {
      const x = logs[a]?.commits ?? [];
      const y = logs[b]?.commits ?? [];
      const upTo = Math.min(x.length, y.length);
      for (let s = 0; s < upTo; s++) {
        if (x[s] === y[s]) continue;
        violations.push(`rule 3: ranks ${a} and ${b} differ at seq ${s}: ${x[s]} vs ${y[s]}`);
        break;
      }
    }
  }
  if (converged) {
    logs.forEach((l, r) => {
      const committed = new Set(l.commits);
      const lost = [...generated].filter((id) => !committed.has(id));
      if (lost.length > 0)
        violations.push(
          `strict: rank ${r} never committed ${lost.length} generated instances (e.g. ${lost[0]})`,
        );
    });
  }
  return violations;
}
