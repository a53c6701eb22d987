// The two log lines of the spec, in one place: how a rank writes them and how everything in src/
// reads them back (recovery, the simulator's checks, the harness, tests). checker/ keeps its own
// parser on purpose: it is the independent second opinion and imports nothing from src/.
//   generate Instance[<id>] in seq <n> at <µs>
//   commit Instance[<id>] in seq <n> at <µs>
// Pure: no I/O.

export type LogLineKind = "generate" | "commit";

export interface LogLine {
  kind: LogLineKind;
  id: string;
  /** For a generate line, the rank's generate counter; for a commit line, the committed seq. */
  seq: number;
  /** Wall-clock (or virtual) time the line was written, whole µs. */
  atUs: number;
}

/** The line a rank writes when it generates an instance (its seq is the generate counter). */
export function generateLine(id: string, seq: number, atUs: number): string {
  return `generate Instance[${id}] in seq ${seq} at ${Math.floor(atUs)}\n`;
}

/** The line a rank writes when it installs a peer's snapshot covering up to seq: its commit lines
 * go on at seq+1 (the ones below are in the snapshot, not in this log). Checkers that only know
 * the spec's two lines skip it. */
export function installLine(seq: number, atUs: number): string {
  return `install snapshot up to seq ${seq} at ${Math.floor(atUs)}\n`;
}

/** The line a rank writes when it starts on an empty data directory to rejoin (it lost its disk):
 * it may commit again what it had committed before (the same values); checkers that know this line
 * take such repeats for relearning. */
export function rejoinLine(atUs: number): string {
  return `rejoin after a lost disk at ${Math.floor(atUs)}\n`;
}

/** The line a rank writes for an own instance bound to a seq that a snapshot it installed covers:
 * whether it was chosen there is unknown (it is neither proposed again nor waited for). Checkers
 * that know this line do not count it as lost when no rank committed it. */
export function unknownLine(id: string, seq: number, atUs: number): string {
  return `unknown Instance[${id}] in seq ${seq} at ${Math.floor(atUs)}\n`;
}

/** The line a rank writes when it commits an instance at a seq. */
export function commitLine(id: string, seq: number, atUs: number): string {
  return `commit Instance[${id}] in seq ${seq} at ${Math.floor(atUs)}\n`;
}

// An id is what the rank accepts (messages.ts instanceId): no "]" and no line break. Excluding line
// breaks matters in the multiline scan: a line cut short by a crash ("commit Instance[0-") must not
// run on into the next line and swallow it. Groups: id, seq, µs.
const BODY = String.raw` Instance\[([^\]\r\n]*)\] in seq (\d+) at (\d+)`;
/** One line; its trailing "\n" may be left on (a LogSink's lines keep it). */
const ONE_LINE = new RegExp(`^(generate|commit)${BODY}\\n?$`);
// Global and multiline, for a whole log in one pass per kind. matchAll copies the regex (lastIndex
// included), so sharing these module-level objects between calls is safe.
const ALL_LINES: Record<LogLineKind, RegExp> = {
  generate: new RegExp(`^generate${BODY}$`, "gm"),
  commit: new RegExp(`^commit${BODY}$`, "gm"),
};

/** A generate or commit line, or null for anything else (other output, a line cut short). */
export function parseLogLine(line: string): LogLine | null {
  const m = ONE_LINE.exec(line);
  if (!m) return null;
  return { kind: m[1] as LogLineKind, id: m[2] as string, seq: Number(m[3]), atUs: Number(m[4]) };
}

/** Every generate and commit line of a log, in order (other lines are skipped). */
export function parseLogLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split("\n")) {
    const l = parseLogLine(line);
    if (l) out.push(l);
  }
  return out;
}

/**
 * Calls fn for every line of one kind in a whole log, in order. For logs of millions of lines (the
 * benchmark): one regular-expression scan over the text, with no per-line string or object made
 * beyond the match, which keeps it as fast as a bare matchAll (a generator of objects was ~25% slower).
 */
export function eachLogLine(
  text: string,
  kind: LogLineKind,
  fn: (id: string, seq: number, atUs: number) => void,
): void {
  for (const m of text.matchAll(ALL_LINES[kind])) fn(m[1] as string, Number(m[2]), Number(m[3]));
}
