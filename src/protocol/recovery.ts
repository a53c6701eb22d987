// What a restarted rank learns from its own log file: the commits it already wrote (so it never
// writes a seq twice), how many instances it generated (so ids stay unique), and its own
// instances that are not committed yet (so none is lost).
const GENERATE = /^generate Instance\[(.*?)\] in seq (\d+) at \d+$/;
const COMMIT = /^commit Instance\[(.*?)\] in seq (\d+) at \d+$/;

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
  for (const line of text.split("\n")) {
    const c = COMMIT.exec(line);
    if (c) {
      const seq = Number(c[2]);
      if (seq === commits.length) {
        commits.push(c[1] as string);
        committed.add(c[1] as string);
      } else if (seq > commits.length) problems.push(`commit seq ${seq} after ${commits.length - 1}: later commits are fetched again`);
      continue;
    }
    const g = GENERATE.exec(line);
    if (g && line.startsWith("generate")) {
      const counter = Number(g[2]);
      generated = Math.max(generated, counter + 1);
      if ((g[1] as string).startsWith(`${me}-`)) own.push(g[1] as string);
    }
  }
  return { commits, generated, uncommitted: own.filter((id) => !committed.has(id)), problems };
}
