// Parsing of one rank's log into compact columns.
//
// The spec defines the lines of interest by two regexes:
//   ^generate Instance\[(.*?)\] in seq (\d+) at (\d+)$
//   ^commit Instance\[(.*?)\] in seq (\d+) at (\d+)$
// Logs can hold millions of lines, so instead of running a regex on every line we
// scan the raw bytes: a one-byte check, then a prefix compare, then the tail
// "] in seq <digits> at <digits>" is read backwards from the end of the line.
// Reading the tail backwards gives exactly the regex's match: both digit runs
// are maximal (they are bounded by non-digits), so the split point is unique and
// everything between the prefix and "] in seq " is the instance id, whatever it
// contains. checker/parse.test.ts pins this equivalence against the regexes.
//
// Instance ids are interned to small integers (InstanceNames) so that the rules
// compare numbers, and the tables hold numbers rather than millions of strings.
//
// Two more lines are read, beyond the spec's two:
//   ^install snapshot up to seq (\d+) at (\d+)$
// A rank writes it when it installs a peer's snapshot instead of committing the
// seqs it covers one by one: its commit lines go on at seq + 1 (see rules.ts).
//   ^unknown Instance\[(.*?)\] in seq (\d+) at (\d+)$
// A rank writes it for an own instance bound to a seq that a snapshot it installed
// covered: whether it was chosen there is unknown. Nothing-lost does not count such an
// instance as lost when no rank committed it.
//   ^rejoin after a lost disk at (\d+)$
// A rank writes it when it starts again on an empty data directory (--rejoin): it
// has forgotten what it committed, so it may learn those seqs again. A commit line
// after it that repeats one before it (same seq, same instance) is that relearning,
// not a second commit, and is left out; anything else is judged as usual.
import type { InstanceNames } from "./names.js";

/** The commit and generate lines of one rank, in file order, as parallel columns. */
export interface RankLog {
  rank: number;
  file: string;
  commitSeq: number[];
  commitId: number[];
  /** microseconds since the Unix epoch */
  commitTime: number[];
  generateId: number[];
  generateTime: number[];
  /** the seq of each install line, in file order: a snapshot covered every seq up to it */
  installSeq: number[];
  /** instances of unknown lines (outcome unknown under an installed snapshot) */
  unknownId: number[];
  /** rejoin lines (restarts on an empty data directory) */
  rejoins: number;
  /** commit lines after a rejoin that repeated one before it, left out */
  relearned: number;
}

/** A problem with the input itself (not a rule violation); the CLI exits 2 on it. */
export class LogInputError extends Error {}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const GENERATE_PREFIX = Buffer.from("generate Instance[", "latin1");
const COMMIT_PREFIX = Buffer.from("commit Instance[", "latin1");
const SEQ_MARKER = Buffer.from("] in seq ", "latin1");
const AT_MARKER = Buffer.from(" at ", "latin1");
const INSTALL_PREFIX = Buffer.from("install snapshot up to seq ", "latin1");
const LOWERCASE_C = 0x63;
const LOWERCASE_G = 0x67;
const LOWERCASE_I = 0x69;
const LOWERCASE_R = 0x72;
const LOWERCASE_U = 0x75;
const UNKNOWN_PREFIX = Buffer.from("unknown Instance[", "latin1");
const REJOIN_PREFIX = Buffer.from("rejoin after a lost disk at ", "latin1");

/** The parts of a matching line; reused across lines to avoid an allocation per line. */
interface LineMatch {
  idStart: number;
  idEnd: number;
  seq: number;
  time: number;
}

/**
 * Parses one rank's log. Lines that are neither a generate nor a commit line are
 * ignored. A trailing "\r" is dropped so that CRLF logs are not silently ignored.
 */
export function parseRankLog(
  content: Buffer,
  rank: number,
  file: string,
  names: InstanceNames,
): RankLog {
  const log: RankLog = {
    rank,
    file,
    commitSeq: [],
    commitId: [],
    commitTime: [],
    generateId: [],
    generateTime: [],
    installSeq: [],
    unknownId: [],
    rejoins: 0,
    relearned: 0,
  };
  /** After a rejoin line: what the rank had committed before it, seq -> instance. */
  let before: Map<number, number> | null = null;
  const match: LineMatch = { idStart: 0, idEnd: 0, seq: 0, time: 0 };
  let lineStart = 0;
  let lineNumber = 0;
  while (lineStart < content.length) {
    lineNumber++;
    let next = content.indexOf(NEWLINE, lineStart);
    if (next === -1) next = content.length;
    let lineEnd = next;
    if (lineEnd > lineStart && content[lineEnd - 1] === CARRIAGE_RETURN) lineEnd--;
    const first = content[lineStart];
    if (first === LOWERCASE_I && matchInstall(content, lineStart, lineEnd, match)) {
      checkNumbers(match, file, lineNumber);
      log.installSeq.push(match.seq);
    }
    if (first === LOWERCASE_R && isRejoin(content, lineStart, lineEnd)) {
      log.rejoins++;
      before = new Map(log.commitSeq.map((seq, i) => [seq, log.commitId[i] ?? -1]));
    }
    if (first === LOWERCASE_U && matchLine(content, lineStart, lineEnd, UNKNOWN_PREFIX, match)) {
      checkNumbers(match, file, lineNumber);
      log.unknownId.push(names.internBytes(content, match.idStart, match.idEnd, -1));
    }
    // One byte decides which prefix, if any, can match: most lines stop here.
    const prefix =
      first === LOWERCASE_C ? COMMIT_PREFIX : first === LOWERCASE_G ? GENERATE_PREFIX : undefined;
    if (prefix !== undefined && matchLine(content, lineStart, lineEnd, prefix, match)) {
      checkNumbers(match, file, lineNumber);
      const isCommit = prefix === COMMIT_PREFIX;
      const id = names.internBytes(content, match.idStart, match.idEnd, isCommit ? match.seq : -1);
      if (isCommit && before?.get(match.seq) === id) log.relearned++;
      else if (isCommit) {
        log.commitSeq.push(match.seq);
        log.commitId.push(id);
        log.commitTime.push(match.time);
      } else {
        log.generateId.push(id);
        log.generateTime.push(match.time);
      }
    }
    lineStart = next + 1;
  }
  return log;
}

/** Fills `match` and returns true when content[start, end) is a line of interest. */
function matchLine(
  content: Buffer,
  start: number,
  end: number,
  prefix: Buffer,
  match: LineMatch,
): boolean {
  const idStart = start + prefix.length;
  if (end < idStart || !bytesAt(content, start, prefix)) return false;
  const timeStart = digitRunStart(content, idStart, end);
  if (timeStart === end) return false;
  const atStart = timeStart - AT_MARKER.length;
  if (atStart < idStart || !bytesAt(content, atStart, AT_MARKER)) return false;
  const seqStart = digitRunStart(content, idStart, atStart);
  if (seqStart === atStart) return false;
  const idEnd = seqStart - SEQ_MARKER.length;
  if (idEnd < idStart || !bytesAt(content, idEnd, SEQ_MARKER)) return false;
  if (!isRegexDotSafe(content, idStart, idEnd)) return false;
  match.idStart = idStart;
  match.idEnd = idEnd;
  match.seq = readDecimal(content, seqStart, atStart);
  match.time = readDecimal(content, timeStart, end);
  return true;
}

/** Whether content[start, end) is a rejoin line (the prefix, then digits to the end). */
function isRejoin(content: Buffer, start: number, end: number): boolean {
  const timeStart = start + REJOIN_PREFIX.length;
  return (
    end > timeStart &&
    bytesAt(content, start, REJOIN_PREFIX) &&
    digitRunStart(content, timeStart, end) === timeStart
  );
}

/** Fills match.seq and match.time and returns true when content[start, end) is an install line. */
function matchInstall(content: Buffer, start: number, end: number, match: LineMatch): boolean {
  const seqStart = start + INSTALL_PREFIX.length;
  if (end <= seqStart || !bytesAt(content, start, INSTALL_PREFIX)) return false;
  const timeStart = digitRunStart(content, seqStart, end);
  if (timeStart === end) return false;
  const atStart = timeStart - AT_MARKER.length;
  if (atStart <= seqStart || !bytesAt(content, atStart, AT_MARKER)) return false;
  // Nothing but digits between the prefix and " at ".
  if (digitRunStart(content, seqStart, atStart) !== seqStart) return false;
  match.seq = readDecimal(content, seqStart, atStart);
  match.time = readDecimal(content, timeStart, end);
  return true;
}

/**
 * Whether `pattern` occurs in `content` at `position` (the caller checked it fits).
 * A plain loop: Buffer.compare's per-call overhead dominated on million-line logs.
 */
function bytesAt(content: Buffer, position: number, pattern: Buffer): boolean {
  for (let offset = 0; offset < pattern.length; offset++) {
    if (content[position + offset] !== pattern[offset]) return false;
  }
  return true;
}

/** Start of the run of ASCII digits that ends at `end` (never before `floor`). */
function digitRunStart(content: Buffer, floor: number, end: number): number {
  let position = end;
  while (position > floor) {
    const byte = content[position - 1] ?? 0;
    if (byte < DIGIT_0 || byte > DIGIT_9) break;
    position--;
  }
  return position;
}

function readDecimal(content: Buffer, start: number, end: number): number {
  let value = 0;
  for (let position = start; position < end; position++)
    value = value * 10 + ((content[position] ?? 0) - DIGIT_0);
  return value;
}

/**
 * The regex's "." does not match "\r", U+2028 or U+2029 ("\n" cannot occur inside
 * a line). U+2028/U+2029 are E2 80 A8 / E2 80 A9 in UTF-8.
 */
function isRegexDotSafe(content: Buffer, start: number, end: number): boolean {
  for (let position = start; position < end; position++) {
    const byte = content[position];
    if (byte === CARRIAGE_RETURN) return false;
    if (byte === 0xe2 && content[position + 1] === 0x80) {
      const third = content[position + 2];
      if (third === 0xa8 || third === 0xa9) return false;
    }
  }
  return true;
}

/** Seqs and timestamps beyond 2^53 would silently lose precision: refuse them. */
function checkNumbers(match: LineMatch, file: string, lineNumber: number): void {
  if (!Number.isSafeInteger(match.seq)) {
    throw new LogInputError(`${file} line ${lineNumber}: seq is too large`);
  }
  if (!Number.isSafeInteger(match.time)) {
    throw new LogInputError(`${file} line ${lineNumber}: timestamp is too large`);
  }
}
