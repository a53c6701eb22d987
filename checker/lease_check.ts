// yasp-lease-check: reads the lease logs of a cluster's ranks (yasp-kv --lease-log, default
// <data-dir>/lease.log) and checks that no two ranks ever held the master lease at once.
//
// The lines (times: µs on the host's monotonic clock, shared by every process on one host):
//   held <rank> <term> <fromUs> <untilUs>   the rank held the lease from fromUs until untilUs
//   ended <rank> <term> <atUs>              it gave the lease of that term up early, at atUs
//   start <rank> <atUs>                     a life of the rank began
// A rank killed with kill -9 logs nothing more: its last held line's untilUs ends its lease.
//
// Exit codes: 0 pass (with figures: masters, terms, hand-overs and their gaps), 1 FAIL (the
// overlapping lines), 2 the check could not run (one line naming the file and line).
// Never imports src/: it checks what the service wrote, not what the service thinks.
import { readFileSync } from "node:fs";

export interface Held {
  rank: number;
  term: number;
  fromUs: number;
  untilUs: number;
  /** file:line, for the report. */
  at: string;
}

export class LeaseLogError extends Error {
  override name = "LeaseLogError";
}

/** Lines a file may have (a lease log grows ~4 lines a second; beyond this, split the run). */
const MAX_LINES = 10_000_000;

function num(word: string | undefined, what: string, where: string): number {
  if (word === undefined || !/^\d{1,16}$/.test(word) || !Number.isSafeInteger(Number(word)))
    throw new LeaseLogError(`${where}: ${what} "${word ?? ""}" is not a whole number`);
  return Number(word);
}

/** The held intervals of one log's text, each cut at its ended line (if any). */
export function parseLeaseLog(text: string, name: string): Held[] {
  const held: Held[] = [];
  const lines = text.split("\n");
  if (lines.length > MAX_LINES) throw new LeaseLogError(`${name}: over ${MAX_LINES} lines`);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const where = `${name}:${i + 1}`;
    const w = line.split(/\s+/);
    const count = { held: 5, ended: 4, start: 3 }[w[0] ?? ""];
    if (count === undefined || w.length !== count)
      throw new LeaseLogError(`${where}: not a lease line: "${line.slice(0, 80)}"`);
    const rank = num(w[1], "rank", where);
    if (w[0] === "start") return void num(w[2], "time", where);
    const term = num(w[2], "term", where);
    if (w[0] === "ended") return endAt(held, rank, term, num(w[3], "time", where));
    const fromUs = num(w[3], "fromUs", where);
    const untilUs = num(w[4], "untilUs", where);
    if (untilUs <= fromUs) throw new LeaseLogError(`${where}: untilUs is not after fromUs`);
    held.push({ rank, term, fromUs, untilUs, at: where });
  });
  return held;
}

/** An ended line: the rank's intervals of that term stop at atUs. */
function endAt(held: Held[], rank: number, term: number, atUs: number): void {
  for (const h of held)
    if (h.rank === rank && h.term === term && h.untilUs > atUs)
      h.untilUs = Math.max(h.fromUs, atUs);
}

export interface LeaseVerdict {
  ok: boolean;
  /** Pairs of lines of different ranks whose intervals overlap (at most 20). */
  overlaps: [Held, Held][];
  masters: number;
  terms: number;
  /** Gaps (µs) between one rank's lease ending and another's starting, in time order. */
  gapsUs: number[];
}

/** No two ranks' intervals may overlap: a sweep in start order, keeping the interval that ends
 * last and the one that ends last among the other ranks'. */
export function checkLeases(held: readonly Held[]): LeaseVerdict {
  const sorted = [...held].sort((a, b) => a.fromUs - b.fromUs || a.untilUs - b.untilUs);
  const overlaps: [Held, Held][] = [];
  let best: Held | null = null;
  let second: Held | null = null; // ends last among ranks other than best's
  for (const h of sorted) {
    const other = best !== null && best.rank !== h.rank ? best : second;
    if (other !== null && other.untilUs > h.fromUs && overlaps.length < 20)
      overlaps.push([other, h]);
    if (best === null || h.untilUs > best.untilUs) {
      if (best !== null && best.rank !== h.rank) second = best;
      best = h;
    } else if (h.rank !== best.rank && (second === null || h.untilUs > second.untilUs)) second = h;
  }
  return {
    ok: overlaps.length === 0,
    overlaps,
    masters: new Set(held.map((h) => h.rank)).size,
    terms: new Set(held.map((h) => `${h.rank}/${h.term}`)).size,
    gapsUs: handOverGaps(sorted),
  };
}

function handOverGaps(sorted: readonly Held[]): number[] {
  const gaps: number[] = [];
  let rank = -1;
  let untilUs = 0;
  for (const h of sorted) {
    if (rank !== -1 && h.rank !== rank) {
      gaps.push(h.fromUs - untilUs);
      untilUs = h.untilUs;
    } else untilUs = Math.max(untilUs, h.untilUs);
    rank = h.rank;
  }
  return gaps;
}

const ms = (us: number) => `${(us / 1000).toFixed(1)} ms`;
const show = (h: Held) => `rank ${h.rank} term ${h.term} [${h.fromUs}, ${h.untilUs}) (${h.at})`;

export function formatVerdict(v: LeaseVerdict, files: number): string {
  if (!v.ok) {
    const lines = v.overlaps.map(([a, b]) => `  ${show(a)} overlaps ${show(b)}\n`);
    return `FAIL: two ranks held the lease at once:\n${lines.join("")}`;
  }
  const g = v.gapsUs;
  const gaps = g.length === 0 ? "" : `, gaps min ${ms(Math.min(...g))} / max ${ms(Math.max(...g))}`;
  return `pass: ${files} logs, ${v.masters} masters, ${v.terms} terms, ${g.length} hand-overs${gaps}\n`;
}

/** The command: returns the exit code. */
export function runLeaseCheck(
  args: readonly string[],
  out: (text: string) => void,
  err: (text: string) => void,
  read: (file: string) => string = (f) => readFileSync(f, "utf8"),
): number {
  if (args.includes("--help") || args.includes("-h")) {
    out(
      "usage: yasp-lease-check <lease.log>...\n\nChecks that no two ranks held the lease at once.\n",
    );
    return 0;
  }
  try {
    if (args.length === 0) throw new LeaseLogError("give the lease logs to check");
    const held: Held[] = [];
    for (const file of args) {
      if (file.startsWith("-")) throw new LeaseLogError(`unknown option ${file}`);
      let text: string;
      try {
        text = read(file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new LeaseLogError(`cannot read ${file}: ${code ?? String(e)}`);
      }
      held.push(...parseLeaseLog(text, file));
    }
    const verdict = checkLeases(held);
    out(formatVerdict(verdict, args.length));
    return verdict.ok ? 0 : 1;
  } catch (e) {
    err(`yasp-lease-check: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}
