// What a restarted rank learns from its own log file: the commits it already wrote (so it never
// writes a seq twice), how many instances it generated (so ids stay unique), and its own
// instances that are not committed yet (so none is lost).
import { parseLogLines } from "./log_lines.js";

export interface RecoveredLog {
  commits: string[];
  /** The next value of this rank's generate counter. */
  generated: number;
  /** Own instances generated but not committed (in generation order). */
  uncommitted: string[];
  /** Lines that did not fit (a seq out of order); reported, not fatal. */
  problems: string[];
}

export function recoverLog(text: string, me: number): RecoveredLog {
  const commits: string[] = [];
  const committed = new Set<string>();
  const own: string[] = [];
  const problems: string[] = [];
  let generated = 0;
  for (const line of parseLogLines(text)) {
    const { id, seq } = line;
    if (line.kind === "commit") {
      if (seq === commits.length) {
        commits.push(id);
        committed.add(id);
      } else if (seq > commits.length)
        problems.push(
          `commit seq ${seq} after ${commits.length - 1}: later commits are fetched again`,
        );
      continue;
    }
    // A generate line's seq is the generate counter.
    generated = Math.max(generated, seq + 1);
    if (id.startsWith(`${me}-`)) own.push(id);
  }
  return { commits, generated, uncommitted: own.filter((id) => !committed.has(id)), problems };
}
