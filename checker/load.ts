// Turning the command line's file list into parsed rank logs.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { InstanceNames } from "./names.js";
import { LogInputError, parseRankLog, type RankLog } from "./parse.js";

/** A log set: every rank's log, ordered by rank id, sharing one instance-name table. */
export interface LogSet {
  logs: RankLog[];
  names: InstanceNames;
}

/** One input log: its rank id, where it came from, and its raw bytes. */
export interface LogInput {
  rank: number;
  file: string;
  content: Buffer;
}

const RANK_FILE_NAME = /^rank-(\d+)\.log$/;

/** `rank-<i>.log` names rank i; any other name gets its position in the argument list. */
export function rankIdFromFileName(file: string, position: number): number {
  const found = RANK_FILE_NAME.exec(basename(file));
  return found?.[1] === undefined ? position : Number(found[1]);
}

/** Parses in-memory inputs; the same path as readLogSet, used by the tests. */
export function parseLogSet(inputs: readonly LogInput[]): LogSet {
  return buildLogSet(
    inputs.map((input) => ({ rank: input.rank, file: input.file, load: () => input.content })),
  );
}

/** Reads and parses the files given on the command line. */
export function readLogSet(files: readonly string[]): LogSet {
  if (files.length === 0) throw new LogInputError("no log files given");
  const sources = files.map((file, position) => ({
    rank: rankIdFromFileName(file, position),
    file,
    load: () => readLogFile(file),
  }));
  return buildLogSet(sources);
}

interface LogSource {
  rank: number;
  file: string;
  load: () => Buffer;
}

/**
 * Loads each source only when it is parsed, so that a single raw file is held in
 * memory at a time (the parsed columns are much smaller than the text).
 */
function buildLogSet(sources: readonly LogSource[]): LogSet {
  const fileByRank = new Map<number, string>();
  for (const source of sources) {
    const other = fileByRank.get(source.rank);
    if (other !== undefined)
      throw new LogInputError(`${other} and ${source.file} are both rank ${source.rank}`);
    fileByRank.set(source.rank, source.file);
  }
  const names = new InstanceNames();
  const logs = sources.map((source) => {
    const content = source.load();
    // An empty file is a rank that committed nothing (validity fails), unless every file is.
    return parseRankLog(content, source.rank, source.file, names);
  });
  logs.sort((a, b) => a.rank - b.rank);
  // A set without a single line of interest is not a run that committed nothing (a validity
  // failure) but files of another kind, or logs of a format the parser does not know.
  if (logs.every((log) => log.commitSeq.length === 0 && log.generateId.length === 0)) {
    const where =
      logs.length === 1 ? (logs[0]?.file ?? "the file") : `any of the ${logs.length} files`;
    throw new LogInputError(`no generate or commit line in ${where} (are these yasp rank logs?)`);
  }
  return { logs, names };
}

function readLogFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new LogInputError(`cannot read ${file}: ${describeReadError(error)}`);
  }
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
