// The checker's rules, applied in memory to a simulated run's logs (the simulator checks thousands
// of runs; checker/ stays the independent second opinion on real runs). Beyond the spec's two
// lines, a rank's log may hold install lines (a peer's snapshot covers every seq up to S: the
// rank's commits go on at S+1, and the seqs below may be missing from its log) and the simulator's
// own lost-disk lines (the rank starts over from nothing: it commits from seq 0, or from an
// install, again, and what it commits again must be what it had).
import { parseLogLine } from "../protocol/log_lines.js";

export interface ParsedLog {
  /** Committed ids by seq; seqs under an installed snapshot may be missing. */
  commits: (string | undefined)[];
  generated: string[];
  /** Ids generated before a lost disk (in the life it ended): the instances among them no rank
   * committed were lost with the disk, as a client of that rank would see. */
  beforeLoss: string[];
  /** One past the last seq committed or covered by an install: the commit index the log ends at. */
  end: number;
  /** The highest seq an installed snapshot covered (-1: none). */
  installedUpTo: number;
  installs: number;
  /** Installs after a lost disk (a rank rejoining on an empty disk). */
  rejoinInstalls: number;
  lostDisks: number;
}

const INSTALL = /^install snapshot up to seq (\d+) at \d+$/;
const LOST_DISK = /^disk lost at \d+$/;

/** The line the simulator adds to a rank's log when its disk is lost (it is not the rank's). */
export function lostDiskLine(atUs: number): string {
  return `disk lost at ${Math.floor(atUs)}\n`;
}

/** Parse a rank's log; structural problems (gaps, repeats, two values at a seq) become violations. */
export function parseLog(rank: number, text: string, violations: string[]): ParsedLog {
  const log: ParsedLog = {
    commits: [],
    generated: [],
    beforeLoss: [],
    end: 0,
    installedUpTo: -1,
    installs: 0,
    rejoinInstalls: 0,
    lostDisks: 0,
  };
  for (const raw of text.split("\n")) {
    const line = parseLogLine(raw);
    if (line?.kind === "generate") log.generated.push(line.id);
    else if (line) commit(rank, log, line.seq, line.id, violations);
    else if (LOST_DISK.test(raw)) {
      log.end = 0;
      log.beforeLoss = [...log.generated];
      log.lostDisks++;
    } else {
      const m = INSTALL.exec(raw);
      if (m) install(rank, log, Number(m[1]), violations);
    }
  }
  return log;
}

function commit(rank: number, log: ParsedLog, seq: number, id: string, violations: string[]) {
  const known = log.commits[seq];
  if (known !== undefined && known !== id)
    violations.push(`rule 1: rank ${rank} seq ${seq} has ${known} and ${id}`);
  else if (seq === log.end) log.commits[seq] = id;
  else if (seq > log.end) violations.push(`strict: rank ${rank} has a gap before seq ${seq}`);
  else if (known === undefined)
    violations.push(`strict: rank ${rank} commits seq ${seq} under its installed snapshot`);
  else violations.push(`strict: rank ${rank} commits seq ${seq} twice`);
  if (seq === log.end) log.end++;
}

function install(rank: number, log: ParsedLog, seq: number, violations: string[]) {
  // A rank installs only a snapshot past its commit index (consensus_handler's install).
  if (seq < log.end)
    violations.push(
      `strict: rank ${rank} installs a snapshot up to seq ${seq} below its commit index ${log.end}`,
    );
  log.end = Math.max(log.end, seq + 1);
  log.installedUpTo = Math.max(log.installedUpTo, seq);
  log.installs++;
  if (log.lostDisks > 0) log.rejoinInstalls++;
}

/**
 * Validity (every rank committed something), rules 1-3 and the strict rules; with converged, also
 * "nothing lost" on every rank, except for instances no rank committed that were lost with a disk
 * or whose rank said their outcome is unknown (`unknown`: a snapshot it installed covered the seq
 * they were bound to, so they are neither proposed again nor waited for). Rules 1-3 only compare the commits there are, so without the first
 * check a rank that never committed would pass (the checker fails it too: "node <i> have empty commit").
 */
export function checkLogs(
  texts: readonly string[],
  converged: boolean,
  unknown: ReadonlySet<string> = new Set(),
): string[] {
  const violations: string[] = [];
  const logs = texts.map((t, r) => parseLog(r, t, violations));
  logs.forEach((l, r) => {
    if (l.end === 0) violations.push(`validity: rank ${r} has empty commit (committed nothing)`);
  });
  const generated = new Set(logs.flatMap((l) => l.generated));
  logs.forEach((l, r) => {
    const seen = new Map<string, number>();
    l.commits.forEach((id, seq) => {
      if (id === undefined) return;
      if (!generated.has(id)) violations.push(`rule 2: rank ${r} committed ${id}, never generated`);
      const before = seen.get(id);
      if (before !== undefined)
        violations.push(`strict: rank ${r} committed ${id} at seqs ${before} and ${seq}`);
      seen.set(id, seq);
    });
  });
  violations.push(...rule3(logs));
  if (converged) {
    const committed = new Set(logs.flatMap((l) => l.commits));
    const excused = [...logs.flatMap((l) => l.beforeLoss), ...unknown];
    for (const id of excused) if (!committed.has(id)) generated.delete(id);
    violations.push(...nothingLost(logs, generated));
  }
  return violations;
}

/** Two ranks agree at every seq both have (a seq under one's installed snapshot is not compared). */
function rule3(logs: readonly ParsedLog[]): string[] {
  const violations: string[] = [];
  for (let a = 0; a < logs.length; a++) {
    for (let b = a + 1; b < logs.length; b++) {
      const x = logs[a]?.commits ?? [];
      const y = logs[b]?.commits ?? [];
      const upTo = Math.min(x.length, y.length);
      for (let s = 0; s < upTo; s++) {
        if (x[s] === undefined || y[s] === undefined || x[s] === y[s]) continue;
        violations.push(`rule 3: ranks ${a} and ${b} differ at seq ${s}: ${x[s]} vs ${y[s]}`);
        break;
      }
    }
  }
  return violations;
}

/** Every generated instance is committed on every rank: in its log, or under a snapshot it
 * installed (what another rank committed at a seq that snapshot covers). Generated means those
 * not lost with a disk: committed by some rank, or generated in a life that kept its disk. */
function nothingLost(logs: readonly ParsedLog[], generated: Set<string>): string[] {
  const chosen: (string | undefined)[] = [];
  for (const l of logs) l.commits.forEach((id, seq) => (chosen[seq] ??= id));
  const violations: string[] = [];
  logs.forEach((l, r) => {
    const committed = new Set(l.commits);
    for (let s = 0; s <= l.installedUpTo; s++)
      if (l.commits[s] === undefined) committed.add(chosen[s]);
    const lost = [...generated].filter((id) => !committed.has(id));
    if (lost.length > 0)
      violations.push(
        `strict: rank ${r} never committed ${lost.length} generated instances (e.g. ${lost[0]})`,
      );
  });
  return violations;
}
